"""users/users-by-time-of-the-day-in-a-week from counts held in memory: per day and wall-clock hour of the zone, the
distinct users; every cell, newest day and hour first; bots chosen; the CSV's hours as UTC instants."""

from __future__ import annotations

from engagement_svc.reports import users_by_hour
from engagement_svc.reports.sources import Sources
from engagement_svc.settings import Settings
from tests.support.fake_sources import FakeCounts, csv_text, seconds

SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")
# Kathmandu is 5:45 ahead of UTC: its hours begin at a quarter past in UTC.
EVENTS = [
    (seconds("2024-03-10T09:10:00+05:45"), "u1"),
    (seconds("2024-03-10T09:50:00+05:45"), "u1"),  # the same user again in the hour: one user
    (seconds("2024-03-10T09:30:00+05:45"), "u2"),
    (seconds("2024-03-11T23:59:00+05:45"), "u3\x1fbot"),
    (seconds("2024-03-12T00:00:00+05:45"), "u1"),  # the day after the range
]
QUERY = {"start": "2024-03-10T00:00:00+05:45", "end": "2024-03-11T12:00:00+05:45", "timezone": "Asia/Kathmandu"}


def ask(bots: str = "include"):
    return users_by_hour.REPORT.params.parse({**QUERY, "bots": bots}, SETTINGS)


def expected(cells: dict[tuple[int, int], int]) -> str:
    rows = [
        f'{{"day":{day},"month":3,"year":2024,"hour":{hour},"users":{cells.get((day, hour), 0)}}}'
        for day in (11, 10)
        for hour in range(23, -1, -1)
    ]
    return '{"week":[' + ",".join(rows) + '],"success":true}'


async def test_every_cell_newest_first_bots_chosen():
    s = Sources(FakeCounts({"active_users": EVENTS}), None)
    assert await users_by_hour.REPORT.json(s, ask()) == expected({(10, 9): 2, (11, 23): 1})
    assert await users_by_hour.REPORT.json(s, ask("exclude")) == expected({(10, 9): 2})
    assert await users_by_hour.REPORT.json(s, ask("only")) == expected({(11, 23): 1})


async def test_csv_hours_are_utc_instants_newest_first():
    filename, text = await csv_text(users_by_hour.REPORT, Sources(FakeCounts({"active_users": EVENTS}), None), ask())
    lines = text.split("\n")
    assert filename == "users-by-time-of-the-day_2024-03-10_2024-03-11.csv"
    assert lines[0] == '"Date";"Users"' and len(lines) == 1 + 48 + 1 and lines[-1] == ""
    assert lines[1] == '"2024-03-11T17:15:00.000Z";"1"'  # 23:00 on the 11th in Kathmandu
    assert lines[1 + 24 + 14] == '"2024-03-10T03:15:00.000Z";"2"'  # 09:00 on the 10th
    assert lines[48] == '"2024-03-09T18:15:00.000Z";"0"'  # midnight starting the 10th
