"""users/chat-busier/hourly-data from counts held in memory: the day holding `start`, in twelve two-hour rows of
distinct users, 22 to 0; a DST day's missing hour; bots chosen; the CSV's rows."""

from __future__ import annotations

from engagement_svc.reports import hourly
from engagement_svc.reports.sources import Sources
from engagement_svc.settings import Settings
from tests.support.fake_sources import FakeCounts, csv_text, seconds

SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")
EVENTS = [
    (seconds("2024-03-10T00:30:00+05:45"), "u1"),
    (seconds("2024-03-10T01:30:00+05:45"), "u2"),
    (seconds("2024-03-10T01:40:00+05:45"), "u1"),  # hours 0 and 1 together: two users
    (seconds("2024-03-10T13:00:00+05:45"), "u1"),
    (seconds("2024-03-10T23:30:00+05:45"), "u3\x1fbot"),
    (seconds("2024-03-09T23:30:00+05:45"), "u4"),  # the day before
]


def ask(start: str = "2024-03-10T04:00:00Z", zone: str = "Asia/Kathmandu", bots: str = "include"):
    return hourly.REPORT.params.parse({"start": start, "timezone": zone, "bots": bots}, SETTINGS)


def expected(pairs: dict[int, int]) -> str:
    rows = [f'{{"hour":{hour},"users":{pairs.get(hour, 0)}}}' for hour in range(22, -1, -2)]
    return '{"hours":[' + ",".join(rows) + '],"success":true}'


async def test_twelve_two_hour_rows_of_the_day_bots_chosen():
    s = Sources(FakeCounts({"active_users": EVENTS}), None)
    assert await hourly.REPORT.json(s, ask()) == expected({0: 2, 12: 1, 22: 1})
    assert await hourly.REPORT.json(s, ask(bots="exclude")) == expected({0: 2, 12: 1})
    assert await hourly.REPORT.json(s, ask(bots="only")) == expected({22: 1})


async def test_the_hour_a_dst_day_skips_leaves_its_pair_one_hour():
    """Berlin, 31 March 2024: 02:00 is 03:00; hours 2 and 3 together are the one hour 03:00-04:00."""
    events = [(seconds("2024-03-31T03:30:00+02:00"), "u1"), (seconds("2024-03-31T01:59:00+01:00"), "u2")]
    body = await hourly.REPORT.json(
        Sources(FakeCounts({"active_users": events}), None), ask("2024-03-31T10:00:00Z", "Europe/Berlin")
    )
    assert body == expected({2: 1, 0: 1})


async def test_csv_rows_are_the_json_rows():
    filename, text = await csv_text(hourly.REPORT, Sources(FakeCounts({"active_users": EVENTS}), None), ask())
    assert filename == "busier-hours_2024-03-10.csv"
    rows = [f'"{hour}";"{ {0: 2, 12: 1, 22: 1}.get(hour, 0) }"\n' for hour in range(22, -1, -2)]
    assert text == '"Hour";"Users"\n' + "".join(rows)
