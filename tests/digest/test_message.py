"""The digest as Rocket.Chat's webhook message: its shape, the changes written as +12%, -3 or new."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from engagement_svc.digest.figures import Digest, Figure, Room
from engagement_svc.digest.message import change, payload
from engagement_svc.digest.period import Period


@pytest.mark.parametrize(
    "value, previous, relative, shown",
    [
        (112, 100, True, "+12%"),
        (97, 100, True, "-3%"),
        (5, 0, True, "new"),
        (0, 0, True, "0%"),
        (100, 100, True, "0%"),
        (0, 40, True, "-100%"),
        (1005, 1000, True, "+1%"),  # 0.5% rounds away from zero
        (995, 1000, True, "-1%"),
        (1004, 1000, True, "0%"),
        (40.3, 38.2, True, "+5%"),
        (7, 10, False, "-3"),
        (12, 10, False, "+2"),
        (3, 3, False, "0"),
    ],
)
def test_change(value, previous, relative, shown):
    assert change(value, previous, relative) == shown


def test_payload_is_rocketchats_message_with_fields():
    digest = Digest(
        Period("7d", ZoneInfo("Europe/Berlin"), date(2024, 3, 31)),
        [Figure("Messages", 1234, 1100), Figure("DAU (average per day)", 40.25, 41, decimals=1)],
        [Room("r1", "c", "general", 530, 0), Room("r2", "p", "secret", 20, 25), Room("r3", "d", "a direct", 9, 9)],
    )
    body = payload(digest)
    assert set(body) == {"text", "attachments"}
    assert "2024-03-25 to 2024-03-31 (Europe/Berlin)" in body["text"]
    activity, top = body["attachments"]
    assert activity["fields"] == [
        {"title": "Messages", "value": "1,234 (+12%)", "short": True},
        {"title": "DAU (average per day)", "value": "40.2 (-2%)", "short": True},
    ]
    assert [(f["title"], f["value"]) for f in top["fields"]] == [
        ("1. #general", "530 messages (new)"),
        ("2. secret (private)", "20 messages (-20%)"),
        ("3. a direct", "9 messages (0%)"),
    ]
    for attachment in body["attachments"]:
        assert attachment["title"] and all(set(f) == {"title", "value", "short"} for f in attachment["fields"])


def test_no_room_had_a_message():
    body = payload(Digest(Period("7d", ZoneInfo("UTC"), date(2024, 3, 31)), [], []))
    assert body["attachments"][1]["fields"] == [{"title": "No room had a message", "value": "-", "short": False}]
