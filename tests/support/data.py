"""Rocket.Chat-shaped test data: the users every test signs in as, and rooms full of messages."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from engagement_svc.demo.dataset import login_token, message_doc, room_doc, user_doc

ADMIN_ID, ADMIN_TOKEN = "AdminUserId000001", "admin-token-raw-value"
USER_ID, USER_TOKEN = "PlainUserId000001", "plain-token-raw-value"
ADMIN_HEADERS = {"X-User-Id": ADMIN_ID, "X-Auth-Token": ADMIN_TOKEN}
AUTHOR = {"_id": "AuthorId000000001", "username": "author", "name": "Author"}
# A user who may see the dashboard through a role of its own, without the admin's bypass of the rate limit.
ANALYST = {"X-User-Id": "AnalystUser000001", "X-Auth-Token": "analyst-token"}


def add_analysts(db, *named: tuple[dict[str, str], str]) -> None:
    """Users (their headers and username) holding the role `analyst`, which is given view-engagement-dashboard."""
    now = datetime.now(UTC)
    for headers, name in named:
        db.users.insert_one(
            user_doc(headers["X-User-Id"], name, ["user", "analyst"], [login_token(headers["X-Auth-Token"], now)])
        )
    db.rocketchat_permissions.update_one({"_id": "view-engagement-dashboard"}, {"$push": {"roles": "analyst"}})


def fill(db, start: datetime, days: int, per_day: int, seed: int = 3, prefix: str = "m") -> list[dict]:
    """Random messages in c, p, d and l rooms, some of them system messages or hidden copies."""
    rng = random.Random(seed)
    if db.rocketchat_room.count_documents({}) == 0:
        db.rocketchat_room.insert_many(
            [
                room_doc("C1", "c", "a"),
                room_doc("P1", "p", "b"),
                room_doc("D1", "d", usernames=["x", "y"]),
                room_doc("L1", "l", "v"),
            ]
        )
    docs = []
    for i in range(days * per_day):
        ts = start + timedelta(seconds=rng.uniform(0, days * 86_400))
        doc = message_doc(
            f"{prefix}{i:07d}",
            rng.choice(["C1", "P1", "D1", "L1"]),
            ts.replace(microsecond=ts.microsecond // 1000 * 1000),
            AUTHOR,
        )
        roll = rng.random()
        if roll < 0.05:
            doc["t"] = "uj"
        elif roll < 0.07:
            doc["_hidden"] = True
        docs.append(doc)
    db.rocketchat_message.insert_many(docs)
    return docs
