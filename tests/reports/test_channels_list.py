"""channels/list from counts and rooms held in memory: every room of type c, p or d with messages in the range or
the one before, sorted by a count or a room's field, one page; a room deleted meanwhile left out; the CSV's rows
(every row, the rooms read a batch at a time)."""

from __future__ import annotations

from datetime import UTC, datetime

from engagement_svc.reports import channels_list
from engagement_svc.reports.sources import Sources
from engagement_svc.settings import Settings
from tests.support.fake_sources import FakeCounts, FakeRooms, csv_text, seconds

SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")
ROOMS = [
    {
        "_id": "A",
        "t": "c",
        "name": "alpha",
        "ts": datetime(2023, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC),
        "_updatedAt": datetime(2024, 3, 1, tzinfo=UTC),
    },
    {"_id": "B", "t": "p", "fname": "Beta", "ts": "not a date"},
    {"_id": "C", "t": "d", "usernames": ["ann", "bob"]},
    {"_id": "L", "t": "l", "name": "livechat"},
]
IN_RANGE, BEFORE = seconds("2024-03-11T12:00:00+00:00"), seconds("2024-03-09T12:00:00+00:00")
EVENTS = [(IN_RANGE, "A")] * 2 + [(IN_RANGE, "A\x1fbot"), (BEFORE, "A")] + [(BEFORE, "B")] * 2 + [(IN_RANGE, "C")]
EVENTS += [(IN_RANGE, "L")] * 5
QUERY = {"start": "2024-03-10T00:00:00.000Z", "end": "2024-03-11T23:59:59.999Z", "timezone": "UTC"}
A_ROOM = '{"_id":"A","name":"alpha","t":"c","ts":"2023-01-02T03:04:05.678Z","_updatedAt":"2024-03-01T00:00:00.000Z"}'
ROW = {
    "A": '{"room":' + A_ROOM + ',"messages":3,"lastWeekMessages":1,"diffFromLastWeek":2}',
    "B": '{"room":{"_id":"B","name":"Beta","t":"p"},"messages":0,"lastWeekMessages":2,"diffFromLastWeek":-2}',
    "C": '{"room":{"_id":"C","t":"d","usernames":["ann","bob"]},"messages":1,"lastWeekMessages":0,'
    '"diffFromLastWeek":1}',
}


def sources(deleted=()) -> Sources:
    rooms = FakeRooms(ROOMS, deleted)
    return Sources(FakeCounts({"messages": list(EVENTS)}, rooms), rooms)


def ask(**extra):
    return channels_list.REPORT.params.parse({**QUERY, **extra}, SETTINGS)


def body(rows: str, total: int, offset: int, count: int) -> str:
    return f'{{"channels":[{rows}],"total":{total},"offset":{offset},"count":{count},"success":true}}'


async def test_sorted_by_a_count_or_a_rooms_field():
    s = sources()
    assert await channels_list.REPORT.json(s, ask()) == body(",".join(ROW[r] for r in "ACB"), 3, 0, 3)
    assert await channels_list.REPORT.json(s, ask(sort="diffFromLastWeek")) == body(
        ",".join(ROW[r] for r in "BCA"), 3, 0, 3
    )
    assert await channels_list.REPORT.json(s, ask(sort="-lastWeekMessages")) == body(
        ",".join(ROW[r] for r in "BAC"), 3, 0, 3
    )
    # by name: a room without one first, then "Beta" before "alpha" (code point order)
    assert await channels_list.REPORT.json(s, ask(sort="name")) == body(",".join(ROW[r] for r in "CBA"), 3, 0, 3)
    # by creation, newest first: rooms without a date (B's is not one) last, ties by id ascending either way
    assert await channels_list.REPORT.json(s, ask(sort="-ts")) == body(",".join(ROW[r] for r in "ABC"), 3, 0, 3)


async def test_one_page():
    assert await channels_list.REPORT.json(sources(), ask(offset="1", count="1")) == body(ROW["C"], 3, 1, 1)
    assert await channels_list.REPORT.json(sources(), ask(offset="3")) == body("", 3, 3, 0)


async def test_bots_chosen():
    only = await channels_list.REPORT.json(sources(), ask(bots="only"))
    a = '{"room":' + A_ROOM + ',"messages":1,"lastWeekMessages":0,"diffFromLastWeek":1}'
    assert only == body(a, 1, 0, 1)


async def test_a_room_deleted_since_counting_is_left_out():
    s = sources(deleted={"C"})
    assert await channels_list.REPORT.json(s, ask()) == body(ROW["A"] + "," + ROW["B"], 2, 0, 2)
    assert s.rooms.forgotten == ["C"]


async def test_rows_sorted_by_a_count_are_remembered_by_a_rooms_field_read_again():
    s = sources()
    await channels_list.REPORT.json(s, ask())
    await channels_list.REPORT.json(s, ask(offset="1"))
    assert s.counts.calls == ["sums_by_key"] * 2  # the range and the one before, once
    await channels_list.REPORT.json(s, ask(sort="name"))
    await channels_list.REPORT.json(s, ask(sort="name"))
    assert s.counts.calls == ["sums_by_key"] * 6


async def test_csv_is_every_row_its_rooms_read_a_batch_at_a_time(monkeypatch):
    monkeypatch.setattr(channels_list, "CSV_BATCH", 2)
    s = sources()
    filename, text = await csv_text(channels_list.REPORT, s, ask(count="1"))
    assert filename == "channels-list_2024-03-10_2024-03-11.csv"
    assert text == (
        '"Room type";"Name";"Messages";"Last Update Date";"Creation Date"\n'
        '"c";"alpha";"3";"2024-03-01T00:00:00.000Z";"2023-01-02T03:04:05.678Z"\n'
        '"d";"ann, bob";"1";"";""\n'
        '"p";"Beta";"0";"";""\n'
    )
    assert s.rooms.reads == [["A", "C"], ["B"]]


async def test_descending_orders_and_a_rooms_dates():
    s = sources()
    assert await channels_list.REPORT.json(s, ask(sort="-diffFromLastWeek")) == body(
        ",".join(ROW[r] for r in "ACB"), 3, 0, 3
    )
    # by creation date: rooms without a date first (B's is not a date; C has none); ties by id either way
    assert await channels_list.REPORT.json(s, ask(sort="ts")) == body(",".join(ROW[r] for r in "BCA"), 3, 0, 3)
    assert await channels_list.REPORT.json(s, ask(sort="-ts")) == body(",".join(ROW[r] for r in "ABC"), 3, 0, 3)


async def test_only_the_name_column_of_the_csv_is_kept_from_reading_as_a_formula():
    rooms = FakeRooms([{**ROOMS[0], "name": "=SUM(1)"}, *ROOMS[1:]], ())
    _, text = await csv_text(channels_list.REPORT, Sources(FakeCounts({"messages": list(EVENTS)}, rooms), rooms), ask())
    first = text.splitlines()[1].split(";")
    assert first[:3] == ['"c"', '"\'=SUM(1)"', '"3"']
