// Runs once, when the database directory is new: the users Rocket.Chat and engagement-svc connect as.
const admin = db.getSiblingDB("admin");
admin.createUser({
  user: "rocketchat", pwd: process.env.ROCKETCHAT_MONGO_PASSWORD,
  roles: [{ role: "readWrite", db: "rocketchat" }, { role: "read", db: "local" }],
});
// Read-only on Rocket.Chat's database; read-write only on its own state database.
admin.createUser({
  user: "engagement", pwd: process.env.ENGAGEMENT_MONGO_PASSWORD,
  roles: [{ role: "read", db: "rocketchat" }, { role: "readWrite", db: "engagement_svc" }],
});
