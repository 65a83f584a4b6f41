"""users/chat-busier/weekly-data from counts held in memory: the seven days ending with the day holding `start`,
distinct users per day, newest first; bots chosen; the CSV's days as their local midnights in UTC."""

from __future__ import annotations

from engagement_svc.reports import weekly
from engagement_svc.reports.sources import Sources
from engagement_svc.settings import Settings
from tests.support.fake_sources import FakeCounts, csv_text, seconds

SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")
EVENTS = [
    (seconds("2024-03-04T12:00:00+00:00"), "u1"),
    (seconds("2024-03-05T12:00:00+00:00"), "u3\x1fbot"),
    (seconds("2024-03-10T01:00:00+00:00"), "u1"),
    (seconds("2024-03-10T20:00:00+00:00"), "u1"),
    (seconds("2024-03-10T23:59:59+00:00"), "u2"),
    (seconds("2024-03-03T23:59:59+00:00"), "u4"),  # the day before the week
    (seconds("2024-03-11T00:00:00+00:00"), "u4"),  # the day after
]


def ask(zone: str = "UTC", bots: str = "include"):
    return weekly.REPORT.params.parse({"start": "2024-03-10T15:00:00Z", "timezone": zone, "bots": bots}, SETTINGS)


def expected(users: dict[int, int]) -> str:
    rows = [f'{{"day":{day},"month":3,"year":2024,"users":{users.get(day, 0)}}}' for day in range(10, 3, -1)]
    return '{"month":[' + ",".join(rows) + '],"success":true}'


async def test_seven_days_newest_first_bots_chosen():
    s = Sources(FakeCounts({"active_users": EVENTS}), None)
    assert await weekly.REPORT.json(s, ask()) == expected({10: 2, 5: 1, 4: 1})
    assert await weekly.REPORT.json(s, ask(bots="exclude")) == expected({10: 2, 4: 1})
    assert await weekly.REPORT.json(s, ask(bots="only")) == expected({5: 1})


async def test_csv_days_are_local_midnights_in_utc():
    """Havana moved to DST at its midnight on 10 March 2024: that day began at 01:00 (-04:00), 05:00 UTC, the same
    instant as the day before's midnight (-05:00)."""
    filename, text = await csv_text(
        weekly.REPORT, Sources(FakeCounts({"active_users": EVENTS}), None), ask("America/Havana")
    )
    assert filename == "busier-days_2024-03-10.csv"
    # in Havana: the 10th holds u1 (20:00Z), u2 (23:59Z) and u4 (00:00Z on the 11th); the 9th, u1 at 01:00Z
    users = {10: 3, 9: 1, 5: 1, 4: 1}
    days = [f'"2024-03-{day:02d}T05:00:00.000Z";"{users.get(day, 0)}"\n' for day in range(10, 3, -1)]
    assert text == '"Date";"Users"\n' + "".join(days)
