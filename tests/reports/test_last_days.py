"""The last day something happened, from counts held in memory: in the range (the last of its days), else before
it as far back as the oldest event, in the request's zone; nothing when never, nor after the range."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from engagement_svc.counting.catalog import ACTIVE_USERS
from engagement_svc.reports.last_days import last_before, last_days
from engagement_svc.reports.queries import RANGE
from engagement_svc.reports.sources import Sources
from engagement_svc.settings import Settings
from tests.support.fake_sources import FakeCounts, FakeRooms, seconds

SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")
EVENTS = [
    (seconds("2024-03-10T20:00:00+00:00"), "ada"),  # 11 March in Kathmandu (+05:45)
    (seconds("2024-03-09T12:00:00+00:00"), "ada"),
    (seconds("2023-01-05T12:00:00+00:00"), "bob"),  # long before the range: the oldest event
    (seconds("2024-03-01T12:00:00+00:00"), "bob"),
    (seconds("2024-03-12T12:00:00+00:00"), "cyd"),  # after the range: not looked at
]


async def test_the_last_day_in_the_range_else_before_it_in_the_zone():
    s = Sources(FakeCounts({"active_users": list(EVENTS)}), FakeRooms([]))
    query = {"start": "2024-03-09T00:00:00+05:45", "end": "2024-03-11T23:00:00+05:45", "timezone": "Asia/Kathmandu"}
    q = RANGE.parse(query, SETTINGS)
    spans = s.calendar.day_spans(ZoneInfo("Asia/Kathmandu"), q.first_day, q.last_day)
    days, last = await last_days(s, q, spans, ACTIVE_USERS)
    assert days == {"ada": 2}
    assert last == {"ada": seconds("2024-03-11T00:00:00+05:45"), "bob": seconds("2024-03-01T00:00:00+05:45")}
    # before the range only bob (both of ada's days are in it)
    assert await last_before(s, q, ACTIVE_USERS, ACTIVE_USERS.counted_for()) == {
        "bob": seconds("2024-03-01T00:00:00+05:45")
    }


async def test_nothing_before_the_oldest_event_or_without_events():
    s = Sources(FakeCounts({}), FakeRooms([]))
    q = RANGE.parse({"start": "2024-03-09T00:00:00Z", "end": "2024-03-10T00:00:00Z"}, SETTINGS)
    assert await last_before(s, q, ACTIVE_USERS, ACTIVE_USERS.counted_for()) == {}
    s = Sources(FakeCounts({"active_users": [(seconds("2024-03-09T12:00:00+00:00"), "ada")]}), FakeRooms([]))
    assert await last_before(s, q, ACTIVE_USERS, ACTIVE_USERS.counted_for()) == {}  # the oldest is in the range
