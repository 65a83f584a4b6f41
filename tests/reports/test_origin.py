"""messages/origin from counts held in memory: exactly c, p and d, most first, ties c, p, d; bots chosen; the CSV's
rows; the answer remembered while the counts stay the same."""

from __future__ import annotations

from engagement_svc.reports import origin
from engagement_svc.reports.sources import Sources
from engagement_svc.settings import Settings
from tests.support.fake_sources import FakeCounts, FakeRooms, csv_text, seconds

SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")
ROOMS = [{"_id": "C1", "t": "c"}, {"_id": "P1", "t": "p"}, {"_id": "D1", "t": "d"}, {"_id": "L1", "t": "l"}]
AT, BEFORE = seconds("2024-03-10T12:00:00+00:00"), seconds("2024-03-09T12:00:00+00:00")
EVENTS = [(AT, "C1")] * 3 + [(AT, "C1\x1fbot")] * 2 + [(AT, "P1")] + [(AT, "L1")] * 4 + [(BEFORE, "D1")] * 9
QUERY = {"start": "2024-03-10T00:00:00.000Z", "end": "2024-03-10T23:59:59.999Z", "timezone": "UTC"}


def sources() -> Sources:
    rooms = FakeRooms(ROOMS)
    return Sources(FakeCounts({"messages": list(EVENTS)}, rooms), rooms)


def ask(bots: str = "include"):
    return origin.REPORT.params.parse({**QUERY, "bots": bots}, SETTINGS)


async def test_the_three_types_most_first_bots_chosen():
    s = sources()
    assert await origin.REPORT.json(s, ask()) == (
        '{"origins":[{"t":"c","messages":5},{"t":"p","messages":1},{"t":"d","messages":0}],"success":true}'
    )
    assert await origin.REPORT.json(s, ask("exclude")) == (
        '{"origins":[{"t":"c","messages":3},{"t":"p","messages":1},{"t":"d","messages":0}],"success":true}'
    )
    assert await origin.REPORT.json(s, ask("only")) == (
        '{"origins":[{"t":"c","messages":2},{"t":"p","messages":0},{"t":"d","messages":0}],"success":true}'
    )


def test_ties_in_the_order_c_p_d():
    assert origin.origins({"d": 2, "p": 2, "l": 9}) == [
        {"t": "p", "messages": 2},
        {"t": "d", "messages": 2},
        {"t": "c", "messages": 0},
    ]


async def test_csv_rows_are_the_json_rows():
    filename, text = await csv_text(origin.REPORT, sources(), ask())
    assert filename == "messages-origin_2024-03-10_2024-03-10.csv"
    assert text == '"Room Type";"Messages"\n"c";"5"\n"p";"1"\n"d";"0"\n'


async def test_remembered_while_the_counts_stay_the_same():
    s = sources()
    first = await origin.REPORT.json(s, ask())
    await csv_text(origin.REPORT, s, ask())
    assert await origin.REPORT.json(s, ask()) == first and s.counts.calls == ["sums_by_class"]
    s.counts.events["messages"].append((AT, "D1"))
    s.counts.change()
    assert '{"t":"d","messages":1}' in await origin.REPORT.json(s, ask())
    assert s.counts.calls == ["sums_by_class"] * 2
