"""The daily shape of messages-sent and new-users: the range's days newest first, the period against the window
before it, the last day against the day before it; its CSV rows; and the totals it reads, bots chosen."""

from __future__ import annotations

from engagement_svc.counting.catalog import MESSAGES
from engagement_svc.reports.daily import daily_json, daily_lines, daily_totals
from engagement_svc.reports.queries import RANGE
from engagement_svc.settings import Settings
from tests.support.fake_sources import FakeCounts, FakeRooms, seconds

SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")
DAY_S = 86_400


def test_days_newest_first_with_both_variations():
    midnights = [i * DAY_S for i in range(6)]  # 1970-01-01 to 01-06: three days before, three in the range
    body = daily_json(midnights, [1, 2, 3, 4, 0, 7], field="users")
    assert body == (
        '{"days":[{"day":"1970-01-06T00:00:00.000Z","users":7},{"day":"1970-01-05T00:00:00.000Z","users":0},'
        '{"day":"1970-01-04T00:00:00.000Z","users":4}],"period":{"count":11,"variation":5},'
        '"yesterday":{"count":0,"variation":7},"success":true}'
    )


def test_one_day_is_measured_against_the_day_before():
    assert daily_json([0, DAY_S], [5, 2]) == (
        '{"days":[{"day":"1970-01-02T00:00:00.000Z","messages":2}],"period":{"count":2,"variation":-3},'
        '"yesterday":{"count":5,"variation":-3},"success":true}'
    )


async def test_csv_rows_are_the_ranges_days_newest_first():
    q = RANGE.parse({"start": "1970-01-04T00:00:00Z", "end": "1970-01-06T12:00:00Z", "timezone": "UTC"}, SETTINGS)
    rows = [text async for text in daily_lines(q, [i * DAY_S for i in range(6)], [1, 2, 3, 4, 0, 7])]
    assert rows == [
        '"1970-01-06T00:00:00.000Z";"7"\n',
        '"1970-01-05T00:00:00.000Z";"0"\n',
        '"1970-01-04T00:00:00.000Z";"4"\n',
    ]


async def test_totals_are_local_days_of_the_window_and_the_range_bots_chosen():
    rooms = FakeRooms([{"_id": "C", "t": "c"}, {"_id": "L", "t": "l"}])
    at = seconds("2024-03-10T23:30:00+00:00")  # 11 March in Berlin (+01:00)
    counts = FakeCounts(
        {"messages": [(at, "C"), (at, "C\x1fbot"), (at, "L"), (at - DAY_S, "C"), (at - 2 * DAY_S, "C")]}, rooms
    )
    zone = {"start": "2024-03-10T23:30:00Z", "end": "2024-03-11T12:00:00Z", "timezone": "Europe/Berlin"}
    for bots, expected in (("include", [1, 2]), ("exclude", [1, 1]), ("only", [0, 1])):
        midnights, totals = await daily_totals(counts, MESSAGES, RANGE.parse({**zone, "bots": bots}, SETTINGS))
        assert totals == expected, bots
        assert midnights == [seconds("2024-03-09T23:00:00+00:00"), seconds("2024-03-10T23:00:00+00:00")]
