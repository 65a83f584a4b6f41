// Runs once, when the database directory is new: the users Rocket.Chat and engagement-svc connect as.
// The passwords are read from the environment as they are (no quoting, any character); the services percent-encode
// them into their URLs (mongo-url.sh). An unset one stops the initialisation rather than create a user without it.
function password(name) {
  const value = process.env[name];
  if (!value) throw new Error(name + " is not set");
  return value;
}
const admin = db.getSiblingDB("admin");
admin.createUser({
  user: "rocketchat", pwd: password("ROCKETCHAT_MONGO_PASSWORD"),
  roles: [{ role: "readWrite", db: "rocketchat" }, { role: "read", db: "local" }],
});
// Read-only on Rocket.Chat's database; read-write only on its own state database.
admin.createUser({
  user: "engagement", pwd: password("ENGAGEMENT_MONGO_PASSWORD"),
  roles: [{ role: "read", db: "rocketchat" }, { role: "readWrite", db: "engagement_svc" }],
});
