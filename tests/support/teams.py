"""A workspace of teams for the tests of team filters: rooms in two teams and none, with and without usersCount,
silent ones, a livechat room, a deleted one; people and a bot posting from long before the ranges asked to their
end."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from tests.support.rocketchat import message_doc, room_doc, user_doc

TEAM_ROOMS = {"T1": ["TC1", "TP1", "TQ1"], "T2": ["TC2"]}


def seed_teams(db):
    """Rooms in two teams and none, with and without usersCount, silent ones, a livechat room; people and a bot
    posting (some messages with a `bot` field) from long before the ranges asked to their end."""
    rng = random.Random(11)
    people = [user_doc(f"Poster{i:011d}", f"poster{i}", ["user"], []) for i in range(12)]
    people.append(user_doc("BotPoster00000001", "bot.poster", ["user", "bot"], []))
    db.users.insert_many(people)
    db.rocketchat_team.insert_many(
        [{"_id": team, "name": team.lower(), "type": 0, "roomId": rooms[0]} for team, rooms in TEAM_ROOMS.items()]
    )
    rooms = []
    for team, rids in TEAM_ROOMS.items():
        for i, rid in enumerate(rids):
            extra = {"teamId": team, **({"teamMain": True} if i == 0 else {}), **({"usersCount": 3 + i} if i else {})}
            rooms.append(room_doc(rid, rid[1].lower(), rid.lower(), **extra))
    rooms += [room_doc(f"C{i}", "cp"[i % 2], f"room-{i}", usersCount=rng.randrange(50)) for i in range(6)]
    rooms += [room_doc("D1", "d", usernames=["poster0", "poster1"]), room_doc("L1", "l", "visitor")]
    rooms += [room_doc("QUIET", "c", "quiet", usersCount=4)]  # never a message: silent, last posted null
    db.rocketchat_room.insert_many(rooms)
    talking = [r["_id"] for r in rooms if r["_id"] not in ("QUIET", "TQ1")] + ["GONE"]
    docs = []
    for i in range(1500):
        ts = datetime(2023, 6, 1, tzinfo=UTC) + timedelta(seconds=rng.uniform(0, 500 * 86_400))
        doc = message_doc(f"tm{i:06d}", rng.choice(talking), ts.replace(microsecond=0), rng.choice(people))
        if rng.random() < 0.1:
            doc["bot"] = {"i": "hook"}
        if rng.random() < 0.05:
            doc["t"] = "uj"
        docs.append(doc)
    db.rocketchat_message.insert_many(docs)
    return db
