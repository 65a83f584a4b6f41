"""channels/list from counts and rooms held in memory: every room of type c, p or d with messages in the range or
the one before, sorted by a count or a room's field, one page; a room deleted meanwhile left out; the CSV's rows
(every row, the rooms read a batch at a time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engagement_svc.reports import channels_list
from engagement_svc.reports.queries import BadRequest
from engagement_svc.reports.sources import Sources
from engagement_svc.settings import Settings
from tests.support.channel_lists import CHOICES, lacks, listed_rows, recounted_rows
from tests.support.data import ADMIN_HEADERS
from tests.support.fake_sources import FakeCounts, FakeRooms, csv_text, seconds
from tests.support.http import CHANNELS_LIST_PATH, get_csv, until
from tests.support.oracle_rooms import csv_channels
from tests.support.rocketchat import message_doc
from tests.support.teams import seed_teams

SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")
ROOMS = [
    {
        "_id": "A",
        "t": "c",
        "name": "alpha",
        "ts": datetime(2023, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC),
        "_updatedAt": datetime(2024, 3, 1, tzinfo=UTC),
        "usersCount": 5,
        "teamId": "T1",
    },
    {"_id": "B", "t": "p", "fname": "Beta", "ts": "not a date", "usersCount": True},  # not a count: 0
    {"_id": "C", "t": "d", "usernames": ["ann", "bob"], "usersCount": 2},
    {"_id": "L", "t": "l", "name": "livechat"},
    {"_id": "Q", "t": "c", "name": "quiet", "usersCount": 9, "teamId": "T1"},  # no message ever: silent
]
IN_RANGE, BEFORE = seconds("2024-03-11T12:00:00+00:00"), seconds("2024-03-09T12:00:00+00:00")
EVENTS = [(IN_RANGE, "A")] * 2 + [(IN_RANGE, "A\x1fbot"), (BEFORE, "A")] + [(BEFORE, "B")] * 2 + [(IN_RANGE, "C")]
EVENTS += [(IN_RANGE, "L")] * 5
POSTS = [(IN_RANGE, "A\x1eann"), (IN_RANGE, "A\x1ebob"), (IN_RANGE, "A\x1ebob\x1fbot"), (BEFORE, "A\x1eann")]
POSTS += [(BEFORE, "B\x1eann")] * 2 + [(IN_RANGE, "C\x1eann")] + [(IN_RANGE, "L\x1ecyd")] * 5
QUERY = {"start": "2024-03-10T00:00:00.000Z", "end": "2024-03-11T23:59:59.999Z", "timezone": "UTC"}
A_ROOM = '{"_id":"A","name":"alpha","t":"c","ts":"2023-01-02T03:04:05.678Z","_updatedAt":"2024-03-01T00:00:00.000Z"}'
LAST_IN_RANGE, LAST_BEFORE = '"lastPosted":"2024-03-11T00:00:00.000Z"', '"lastPosted":"2024-03-09T00:00:00.000Z"'
ROW = {
    "A": '{"room":'
    + A_ROOM
    + ',"messages":3,"lastWeekMessages":1,"diffFromLastWeek":2,"posters":2,'
    + LAST_IN_RANGE
    + ',"members":5}',
    "B": '{"room":{"_id":"B","name":"Beta","t":"p"},"messages":0,"lastWeekMessages":2,"diffFromLastWeek":-2,'
    '"posters":0,' + LAST_BEFORE + ',"members":0}',
    "C": '{"room":{"_id":"C","t":"d","usernames":["ann","bob"]},"messages":1,"lastWeekMessages":0,'
    '"diffFromLastWeek":1,"posters":1,' + LAST_IN_RANGE + ',"members":2}',
    "Q": '{"room":{"_id":"Q","name":"quiet","t":"c"},"messages":0,"lastWeekMessages":0,"diffFromLastWeek":0,'
    '"posters":0,"lastPosted":null,"members":9}',
}


def sources(deleted=()) -> Sources:
    rooms = FakeRooms(ROOMS, deleted)
    return Sources(FakeCounts({"messages": list(EVENTS), "posts": list(POSTS)}, rooms), rooms)


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
    a = '{"room":' + A_ROOM + ',"messages":1,"lastWeekMessages":0,"diffFromLastWeek":1,"posters":1,'
    assert only == body(a + LAST_IN_RANGE + ',"members":5}', 1, 0, 1)


async def test_a_room_deleted_since_counting_is_left_out():
    s = sources(deleted={"C"})
    assert await channels_list.REPORT.json(s, ask()) == body(ROW["A"] + "," + ROW["B"], 2, 0, 2)
    assert s.rooms.forgotten == ["C"]


async def test_rows_sorted_by_a_count_are_remembered_by_a_rooms_field_read_again():
    s = sources()
    await channels_list.REPORT.json(s, ask())
    await channels_list.REPORT.json(s, ask(offset="1"))
    once = ["sums_by_key"] * 2 + ["subject_counts"] + ["presence"] * 2  # messages now and before, posters; last
    assert s.counts.calls == once
    await channels_list.REPORT.json(s, ask(sort="name"))
    await channels_list.REPORT.json(s, ask(sort="name"))
    assert s.counts.calls == once * 3


async def test_csv_is_every_row_its_rooms_read_a_batch_at_a_time(monkeypatch):
    monkeypatch.setattr(channels_list, "CSV_BATCH", 2)
    s = sources()
    filename, text = await csv_text(channels_list.REPORT, s, ask(count="1"))
    assert filename == "channels-list_2024-03-10_2024-03-11.csv"
    assert text == (
        '"Room type";"Name";"Messages";"Last Update Date";"Creation Date";"Posters";"Last Posted";"Members"\n'
        '"c";"alpha";"3";"2024-03-01T00:00:00.000Z";"2023-01-02T03:04:05.678Z";"2";"2024-03-11T00:00:00.000Z";"5"\n'
        '"d";"ann, bob";"1";"";"";"1";"2024-03-11T00:00:00.000Z";"2"\n'
        '"p";"Beta";"0";"";"";"0";"2024-03-09T00:00:00.000Z";"0"\n'
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
    counts = FakeCounts({"messages": list(EVENTS), "posts": list(POSTS)}, rooms)
    _, text = await csv_text(channels_list.REPORT, Sources(counts, rooms), ask())
    first = text.splitlines()[1].split(";")
    assert first[:3] == ['"c"', '"\'=SUM(1)"', '"3"']


async def test_silent_rooms_every_room_and_a_teams_rooms():
    s = sources()
    # silent: channels and groups without a message in the range, whatever the range before
    assert await channels_list.REPORT.json(s, ask(activity="silent")) == body(ROW["B"] + "," + ROW["Q"], 2, 0, 2)
    assert await channels_list.REPORT.json(s, ask(activity="silent", hideRoomsWithNoActivity="false")) == body(
        ROW["B"] + "," + ROW["Q"], 2, 0, 2
    )  # silent wins
    # every existing room of type c, p or d, zeros included (Rocket.Chat 6/7's hideRoomsWithNoActivity=false)
    assert await channels_list.REPORT.json(s, ask(hideRoomsWithNoActivity="false")) == body(
        ",".join(ROW[r] for r in "ACBQ"), 4, 0, 4
    )
    assert await channels_list.REPORT.json(s, ask(teamId="T1")) == body(ROW["A"], 1, 0, 1)
    assert await channels_list.REPORT.json(s, ask(teamId="T1", activity="silent")) == body(ROW["Q"], 1, 0, 1)
    with pytest.raises(BadRequest, match="'teamId'"):
        await channels_list.REPORT.json(s, ask(teamId="T9"))
    for bad in ({"teamId": ""}, {"activity": "dormant"}, {"hideRoomsWithNoActivity": "yes"}):
        with pytest.raises(BadRequest, match=f"'{next(iter(bad))}'"):
            ask(**bad)


async def test_sorted_by_posters_last_posted_and_members():
    s = sources()
    every = {"hideRoomsWithNoActivity": "false"}
    orders = {"posters": "BQCA", "-posters": "ACBQ", "lastPosted": "QBAC", "-lastPosted": "ACBQ", "-members": "QACB"}
    for sort, ids in orders.items():
        assert await channels_list.REPORT.json(s, ask(sort=sort, **every)) == body(
            ",".join(ROW[r] for r in ids), 4, 0, 4
        ), sort


async def test_rows_chosen_by_the_rooms_are_made_again_when_the_rooms_change():
    s = sources()
    silent = ask(activity="silent")
    first = await channels_list.REPORT.json(s, silent)
    calls = len(s.counts.calls)
    assert await channels_list.REPORT.json(s, silent) == first and len(s.counts.calls) == calls
    s.rooms.documents_by_id["N"] = {"_id": "N", "t": "p", "name": "new"}
    s.rooms.changes += 1
    assert '"_id":"N"' in await channels_list.REPORT.json(s, silent)


# -- over a mongod, against the brute-force oracle ----------------------------------------------------------------
@pytest.fixture
def team_data(db):
    return seed_teams(db)


RANGES = [
    ("2024-03-28T00:00:00.000Z", "2024-04-02T00:00:00.000Z", "Europe/Berlin"),
    ("2024-10-31T00:00:00.000Z", "2024-11-05T00:00:00.000Z", "America/New_York"),
    ("2024-04-05T00:00:00.000Z", "2024-04-09T00:00:00.000Z", "Australia/Lord_Howe"),
    ("2024-02-01T00:00:00.000Z", "2024-02-03T00:00:00.000Z", "Asia/Kathmandu"),
    ("2024-07-01T00:00:00.000Z", "2024-07-20T00:00:00.000Z", "Asia/Kolkata"),
    ("2023-06-01T00:00:00.000Z", "2024-05-31T00:00:00.000Z", "UTC"),  # a year
    ("2022-01-01T00:00:00.000Z", "2022-01-05T00:00:00.000Z", "UTC"),  # before any message
]


async def test_posters_last_posted_members_silent_every_and_team_rooms_equal_a_recount(client, team_data):
    for start, end, zone in RANGES:
        for bots in ("include", "exclude", "only"):
            for choice in CHOICES:
                params = {"start": start, "end": end, "timezone": zone, "bots": bots, **choice}
                rows, total = await listed_rows(client, params)
                expected = recounted_rows(team_data, params, bots, choice)
                assert (rows, total) == (expected, len(expected)), params
    params = {"start": RANGES[0][0], "end": RANGES[0][1], "timezone": RANGES[0][2], "hideRoomsWithNoActivity": "false"}
    for sort in ("posters", "-posters", "lastPosted", "-lastPosted", "members", "-members"):
        rows, _ = await listed_rows(client, {**params, "sort": sort})
        assert rows == recounted_rows(team_data, params, "include", params, sort), sort
    _, table = await get_csv(client, CHANNELS_LIST_PATH, {**params, "sort": "-lastPosted"})
    assert table == csv_channels(recounted_rows(team_data, params, "include", params, "-lastPosted"))
    response = await client.get(CHANNELS_LIST_PATH, params={**params, "teamId": "NOPE"}, headers=ADMIN_HEADERS)
    assert (response.status, await response.json()) == (
        400,
        {"success": False, "error": "Invalid parameter 'teamId': no team has this _id"},
    )


async def test_a_room_moved_to_a_team_and_a_message_in_a_silent_room_show_within_seconds(client, team_data):
    now = datetime.now(UTC)
    params = {"start": (now - timedelta(days=6)).isoformat(), "end": now.isoformat(), "timezone": "UTC"}

    async def ids(**choice):
        rows, _ = await listed_rows(client, {**params, **choice})
        return {r["room"]["_id"] for r in rows}

    assert "QUIET" in await ids(activity="silent") and "QUIET" not in await ids(teamId="T2", activity="silent")
    team_data.rocketchat_room.update_one({"_id": "QUIET"}, {"$set": {"teamId": "T2"}})
    assert await until(lambda: _has(ids(teamId="T2", activity="silent"), "QUIET"), seconds=10)
    team_data.rocketchat_message.insert_one(
        message_doc("live1", "QUIET", now, {"_id": "Poster00000000001", "username": "poster1"})
    )
    assert await until(lambda: lacks(ids(activity="silent"), "QUIET"), seconds=10)
    rows, _ = await listed_rows(client, {**params, "teamId": "T2"})
    quiet = next(r for r in rows if r["room"]["_id"] == "QUIET")
    assert (quiet["messages"], quiet["posters"], quiet["members"]) == (1, 1, 4)


async def _has(found, rid):
    return rid in await found
