"""The digest's numbers from the reports in-process (the posted ones against the API and the oracle are
tests/test_cli.py's): a quiet workspace gives zeros and no rooms; a direct room is counted but never named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from engagement_svc.digest.figures import collect
from engagement_svc.digest.period import ending_yesterday
from engagement_svc.resources import SOURCES
from tests.support.data import AUTHOR
from tests.support.rocketchat import message_doc, room_doc


async def test_a_quiet_workspace(client, settings):
    found = await collect(client.app[SOURCES], settings, ending_yesterday("7d", ZoneInfo("UTC"), datetime.now(UTC)))
    assert found.rooms == []
    assert {f.title: (f.value, f.previous) for f in found.figures if f.title != "Dormant seats"} == {
        "Messages": (0, 0),
        "People posting": (0, 0),
        "DAU (average per day)": (0, 0),
        "WAU (its last 7 days)": (0, 0),
        "MAU (its last 30 days)": (0, 0),
        "New users": (0, 0),
        "Silent channels": (0, 0),
    }


async def test_a_direct_room_is_never_named(aiohttp_client, db, settings, users, client):
    db.rocketchat_room.insert_many(
        [room_doc("D1", "d", usernames=["alice", "bob"]), room_doc("C1", "c", "general"), room_doc("P1", "p", "ops")]
    )
    yesterday = datetime.now(UTC) - timedelta(days=1)
    db.rocketchat_message.insert_many(
        [message_doc(f"m{i}", rid, yesterday, AUTHOR) for i, rid in enumerate(["D1"] * 3 + ["C1"] * 2 + ["P1"])]
    )
    found = await collect(client.app[SOURCES], settings, ending_yesterday("7d", ZoneInfo("UTC"), datetime.now(UTC)))
    assert [(r.kind, r.name, r.messages, r.previous) for r in found.rooms] == [
        ("d", "a direct conversation", 3, 0),
        ("c", "general", 2, 0),
        ("p", "ops", 1, 0),
    ]
