"""Origin, top five and the channel list: every number (of the JSON, and every cell of the CSV) equals a
brute-force recount, in zones with DST and odd offsets, for every value of bots; the CSV follows the Accept header;
bad input is a 400 naming the field."""

from __future__ import annotations

import csv
import io
import random
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from engagement_svc.reports import channels_list as channels
from engagement_svc.resources import ENGINE
from tests.support.data import ADMIN_HEADERS
from tests.support.http import (
    CHANNELS_LIST_PATH,
    MESSAGES_SENT_PATH,
    ORIGIN_PATH,
    TOP_FIVE_PATH,
    get_csv,
    range_cases,
    until,
)
from tests.support.oracle import (
    Snapshot,
    csv_days,
    csv_name,
    csv_origin,
    csv_top_five,
    expected_messages_sent,
    expected_origin,
    expected_top_five,
    js,
)
from tests.support.oracle_rooms import csv_channels, expected_channel_rows
from tests.support.rocketchat import message_doc, room_doc, user_doc

ZONES = ["UTC", "America/Havana", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kathmandu", "Asia/Kolkata"]
HUMANS = [{"_id": f"Human{i:012d}", "username": f"human{i}"} for i in range(4)]
BOTS = [
    {"_id": "BotUser0000000001", "username": "rocket.cat"},  # type bot
    {"_id": "AppUser0000000001", "username": "app.poll"},  # type app
    {"_id": "RoleBot0000000001", "username": "helper"},  # roles include bot
]
SORTS = ["messages", "lastWeekMessages", "diffFromLastWeek", "name", "ts", "_updatedAt"]


def add_people(db):
    db.users.insert_many(
        [user_doc(h["_id"], h["username"], ["user"], []) for h in HUMANS]
        + [
            user_doc(BOTS[0]["_id"], BOTS[0]["username"], ["bot"], [], type="bot"),
            user_doc(BOTS[1]["_id"], BOTS[1]["username"], ["app"], [], type="app"),
            user_doc(BOTS[2]["_id"], BOTS[2]["username"], ["user", "bot"], []),
        ]
    )


def add_rooms(db):
    """Renamed rooms, two rooms of one name, teams, discussions, direct rooms without a name, livechat, voip."""
    rooms = [
        room_doc("C1", "c", "general", ts=datetime(2021, 3, 1, tzinfo=UTC)),
        {**room_doc("C2", "c", "renamed"), "fname": "Renamed Room"},  # was "old-name": one row, current name
        room_doc("C3", "c", "same", ts=datetime(2022, 6, 1, tzinfo=UTC)),
        room_doc("C4", "c", "same", ts=datetime(2022, 7, 1, tzinfo=UTC)),  # two rooms of one name: two rows
        room_doc("T1", "c", "team-main", teamMain=True, teamId="team1"),
        room_doc("P1", "p", "secret", _updatedAt=datetime(2024, 5, 1, tzinfo=UTC)),
        room_doc("P2", "p", "a-discussion", prid="C1"),
        room_doc("D1", "d", usernames=["human0", "human1"]),
        room_doc("D2", "d", usernames=["human2", "rocket.cat"]),
        room_doc("L1", "l", "visitor"),
        room_doc("V1", "v", "call"),
        room_doc("=F1", "c", '=HYPERLINK("x")'),  # a name a spreadsheet would run
    ]
    db.rocketchat_room.insert_many(rooms)
    return [r["_id"] for r in rooms] + ["GONE1"]  # GONE1: messages of a deleted room


def insert_messages(db, n, rng, rooms, lo, hi, prefix="m"):
    docs = []
    for i in range(n):
        ts = datetime.fromtimestamp(rng.uniform(lo.timestamp(), hi.timestamp()), UTC)
        ts = ts.replace(microsecond=ts.microsecond // 1000 * 1000)
        author = rng.choice(HUMANS * 3 + BOTS)
        doc = message_doc(f"{prefix}{i:08d}", rng.choice(rooms), ts, author)
        roll = rng.random()
        if roll < 0.06:
            doc["t"] = rng.choice(["uj", "ul", "room_changed_topic"])
        elif roll < 0.10:
            doc.update(_hidden=True, parent=f"{prefix}00000000")
        elif roll < 0.15:
            doc["tmid"] = f"{prefix}00000000"
        elif roll < 0.22:
            doc["bot"] = {"i": "integration1"}
        docs.append(doc)
    db.rocketchat_message.insert_many(docs)
    return docs


@pytest.fixture
def channels_data(db):
    rng = random.Random(5)
    add_people(db)
    rooms = add_rooms(db)
    # A quiet room only in early March: active only in the window before a range that starts later.
    insert_messages(db, 5000, rng, rooms, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC))
    db.rocketchat_message.insert_many(
        [
            message_doc(f"q{i}", "P2", datetime(2024, 3, 3, 12, tzinfo=UTC) + timedelta(minutes=i), HUMANS[0])
            for i in range(3)
        ]
    )
    return db


async def get(client, path, params, headers=None):
    response = await client.get(path, params=params, headers=headers or ADMIN_HEADERS)
    return response.status, (await response.json() if response.content_type == "application/json" else None)


async def all_rows(client, params, page=100):
    rows, offset, total = [], 0, None
    while True:
        status, body = await get(client, CHANNELS_LIST_PATH, {**params, "offset": str(offset), "count": str(page)})
        assert status == 200, body
        total = body["total"] if total is None else total
        assert body["total"] == total and body["offset"] == offset and body["count"] == len(body["channels"])
        rows += body["channels"]
        if len(body["channels"]) < page:
            return rows, total
        offset += page


def parse(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


async def test_every_endpoint_equals_a_recount_in_every_zone(client, channels_data):
    """Origin, top five and every row of the channel list, for every value of bots, as JSON and as CSV (the list's
    CSV holds every row, not one page); and messages-sent over the same rooms and bots."""
    db = channels_data
    fixed = [
        ("2024-03-10T00:00:00.000Z", "2024-03-16T23:59:59.999Z"),  # before and after the quiet room
        ("2024-03-28T00:00:00.000Z", "2024-04-02T00:00:00.000Z", "Europe/Berlin"),  # spring forward, 31 March
        ("2024-10-25T00:00:00.000Z", "2024-10-29T00:00:00.000Z", "Europe/Berlin"),  # fall back, 27 October
        ("2024-11-01T05:00:00.000Z", "2024-11-05T04:59:59.999Z", "America/New_York"),  # 3 November
        ("2024-11-01T05:00:00.000Z", "2024-11-05T04:59:59.999Z", "America/Havana"),  # DST ends in Havana
        ("2024-04-06T13:00:00.000Z", "2024-04-07T16:00:00.000Z", "Australia/Lord_Howe"),  # and in Lord Howe
        ("2024-01-01T00:00:00.000Z", "2024-12-31T23:00:00.000Z"),  # the whole year
        ("2025-06-01T00:00:00.000Z", "2025-06-07T00:00:00.000Z"),  # empty
    ]
    recount = Snapshot(db)
    seen = 0
    for start, end, zone, bots in range_cases(fixed, ZONES, seed=9, longest_days=60):
        params = {"start": start, "end": end, "timezone": zone, "bots": bots}
        s, e = parse(start), parse(end)
        origin = expected_origin(recount, s, e, zone, bots)
        assert await get(client, ORIGIN_PATH, params) == (200, origin), params
        assert await get_csv(client, ORIGIN_PATH, params) == (
            csv_name("messages-origin", s, e, zone),
            csv_origin(origin),
        )
        top = expected_top_five(recount, s, e, zone, bots)
        assert await get(client, TOP_FIVE_PATH, params) == (200, top), params
        assert await get_csv(client, TOP_FIVE_PATH, params) == (
            csv_name("messages-top-five", s, e, zone),
            csv_top_five(top),
        )
        rows, total = await all_rows(client, params)
        expected = expected_channel_rows(recount, s, e, zone, bots)
        assert total == len(expected) and rows == expected, params
        listed = await get_csv(client, CHANNELS_LIST_PATH, {**params, "count": "2"})  # every row, not a page
        assert listed == (csv_name("channels-list", s, e, zone), csv_channels(expected)), params
        seen += total
    assert seen > 200  # the ranges hold rows: the comparisons above are not of empty lists
    # messages-sent, day by day, over the same rooms, people and bots
    start, end, zone = fixed[1]
    for bots in ("include", "exclude", "only"):
        params = {"start": start, "end": end, "timezone": zone, "bots": bots}
        sent = expected_messages_sent(recount, parse(start), parse(end), zone, bots)
        assert await get(client, MESSAGES_SENT_PATH, params) == (200, sent), params
        assert (await get_csv(client, MESSAGES_SENT_PATH, params))[1] == csv_days(sent, "Messages"), params


async def test_the_rooms_the_data_must_stay_right_on(client, channels_data):
    params = {"start": "2024-01-01T00:00:00.000Z", "end": "2024-12-31T00:00:00.000Z"}
    rows, _ = await all_rows(client, params)
    by_id = {row["room"]["_id"]: row for row in rows}
    assert by_id["C2"]["room"]["name"] == "renamed"  # the list shows `name`
    assert by_id["C3"]["room"]["name"] == by_id["C4"]["room"]["name"] == "same"  # two rows
    assert "GONE1" not in by_id and "L1" not in by_id and "V1" not in by_id
    assert "name" not in by_id["D1"]["room"] and by_id["D1"]["room"]["usernames"] == ["human0", "human1"]
    status, body = await get(client, TOP_FIVE_PATH, params)
    assert status == 200 and len(body["channels"]) == 5
    assert all(row["usernames"] == [] for row in body["channels"] if row["t"] != "d")
    renamed = [row for row in body["channels"] if row["_id"] == "C2"]
    assert not renamed or renamed[0]["name"] == "Renamed Room"  # top five shows `fname`
    # the quiet room is listed in a range after its messages, with messages: 0
    rows, _ = await all_rows(client, {"start": "2024-03-04T00:00:00.000Z", "end": "2024-03-04T12:00:00.000Z"})
    quiet = [row for row in rows if row["room"]["_id"] == "P2"]
    assert quiet and quiet[0]["lastWeekMessages"] >= 3


async def test_every_sort_and_page(client, channels_data):
    params = {"start": "2024-02-01T00:00:00.000Z", "end": "2024-02-29T00:00:00.000Z", "timezone": "Pacific/Chatham"}
    s, e = parse(params["start"]), parse(params["end"])
    for field in SORTS:
        for sort in (field, "-" + field):
            rows, total = await all_rows(client, {**params, "sort": sort}, page=3)
            assert rows == expected_channel_rows(channels_data, s, e, params["timezone"], sort=sort), sort
    status, body = await get(client, CHANNELS_LIST_PATH, {**params, "offset": "1000"})
    assert status == 200 and body["channels"] == [] and body["count"] == 0 and body["total"] == total
    status, body = await get(client, CHANNELS_LIST_PATH, {**params, "count": "0"})
    assert body["count"] == min(50, total)


@pytest.mark.parametrize(
    ("path", "key", "value"),
    [
        (CHANNELS_LIST_PATH, "offset", "-1"),
        (CHANNELS_LIST_PATH, "offset", "abc"),
        (CHANNELS_LIST_PATH, "count", "101"),
        (CHANNELS_LIST_PATH, "count", "1.5"),
        (CHANNELS_LIST_PATH, "count", "٣"),
        (CHANNELS_LIST_PATH, "sort", "bogus"),
        (CHANNELS_LIST_PATH, "sort", "--messages"),
        (ORIGIN_PATH, "bots", "maybe"),
        (TOP_FIVE_PATH, "bots", ""),
        (MESSAGES_SENT_PATH, "bots", "EXCLUDE"),
        (ORIGIN_PATH, "format", "xml"),
        (CHANNELS_LIST_PATH, "format", "CSV"),
    ],
)
async def test_bad_input_names_the_field(client, path, key, value):
    params = {"start": "2024-02-01T00:00:00.000Z", "end": "2024-02-02T00:00:00.000Z", key: value}
    status, body = await get(client, path, params)
    assert status == 400 and body["success"] is False and f"'{key}'" in body["error"], body


async def test_missing_keys_come_first(client):
    for path in (ORIGIN_PATH, TOP_FIVE_PATH, CHANNELS_LIST_PATH):
        assert await get(client, path, {"count": "x"}) == (
            400,
            {"success": False, "error": "Match error: Missing key 'start'"},
        )


async def read_csv(client, path, params, accept=None):
    headers = {**ADMIN_HEADERS, **({"Accept": accept} if accept else {})}
    response = await client.get(path, params=params, headers=headers)
    assert response.status == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="')
    assert response.headers["Cache-Control"] == "no-store"
    text = await response.text()
    assert text.endswith("\n") and all(line.startswith('"') for line in text.splitlines())
    table = list(csv.reader(io.StringIO(text), delimiter=";"))
    return table[0], table[1:]


async def test_csv_parses_back_to_the_json(client, channels_data):
    params = {"start": "2024-06-01T00:00:00.000Z", "end": "2024-06-30T00:00:00.000Z", "timezone": "America/Havana"}
    head, rows = await read_csv(client, MESSAGES_SENT_PATH, {**params, "format": "csv"})
    _, body = await get(client, MESSAGES_SENT_PATH, params)
    assert head == ["Date", "Messages"] and rows == [[d["day"], str(d["messages"])] for d in body["days"]]
    head, rows = await read_csv(client, ORIGIN_PATH, params, accept="text/csv")
    _, body = await get(client, ORIGIN_PATH, params)
    assert head == ["Room Type", "Messages"] and rows == [[o["t"], str(o["messages"])] for o in body["origins"]]
    head, rows = await read_csv(client, TOP_FIVE_PATH, params, accept="application/json;q=0.5, text/csv")
    _, body = await get(client, TOP_FIVE_PATH, params)
    assert head == ["Room Type", "Name", "Messages"]
    assert rows == [[c["t"], c.get("name") or ", ".join(c["usernames"]), str(c["messages"])] for c in body["channels"]]
    head, rows = await read_csv(client, CHANNELS_LIST_PATH, {**params, "format": "csv", "count": "2"})
    listed, total = await all_rows(client, params)
    assert head == [
        "Room type",
        "Name",
        "Messages",
        "Last Update Date",
        "Creation Date",
        "Posters",
        "Last Posted",
        "Members",
    ]
    assert len(rows) == total > 2  # every row, not one page

    def name(room):
        shown = room.get("name") or ", ".join(room.get("usernames", []))
        return "'" + shown if shown.startswith("=") else shown  # never a formula in a spreadsheet

    assert rows == [
        [
            r["room"]["t"],
            name(r["room"]),
            str(r["messages"]),
            r["room"]["_updatedAt"],
            r["room"]["ts"],
            str(r["posters"]),
            r["lastPosted"] or "",
            str(r["members"]),
        ]
        for r in listed
    ]
    # the JSON is the default, and an Accept that refuses CSV gets JSON
    response = await client.get(ORIGIN_PATH, params=params, headers={**ADMIN_HEADERS, "Accept": "text/csv;q=0"})
    assert response.content_type == "application/json"


async def test_new_messages_renames_and_deletions_show_within_seconds(client, channels_data):
    db = channels_data
    engine = client.server.app[ENGINE]
    now = datetime.now(UTC)
    params = {"start": js(now - timedelta(days=6)), "end": js(now), "timezone": "Asia/Kathmandu"}
    assert (await get(client, TOP_FIVE_PATH, params))[0] == 200
    assert await until(lambda: engine.watcher.healthy)
    db.rocketchat_message.insert_many(
        [message_doc(f"new{i}", "C3", now - timedelta(seconds=i), HUMANS[1]) for i in range(30)]
        + [message_doc(f"newbot{i}", "D2", now - timedelta(seconds=i), BOTS[0]) for i in range(12)]
    )

    async def all_agree(bots="include"):
        p = {**params, "bots": bots}
        s, e = parse(p["start"]), parse(p["end"])
        rows, _ = await all_rows(client, p)
        return (
            await get(client, ORIGIN_PATH, p) == (200, expected_origin(db, s, e, p["timezone"], bots))
            and await get(client, TOP_FIVE_PATH, p) == (200, expected_top_five(db, s, e, p["timezone"], bots))
            and rows == expected_channel_rows(db, s, e, p["timezone"], bots)
        )

    assert await until(all_agree, seconds=5)
    assert await until(lambda: all_agree("only"), seconds=5)
    db.rocketchat_room.update_one({"_id": "C3"}, {"$set": {"name": "same-renamed", "fname": "Same, renamed"}})
    assert await until(all_agree, seconds=5)
    db.rocketchat_room.delete_one({"_id": "C3"})
    assert await until(all_agree, seconds=5)
    assert await until(lambda: all_agree("exclude"), seconds=5)


async def test_a_user_who_becomes_a_bot_moves_their_messages(client, channels_data):
    db = channels_data
    engine = client.server.app[ENGINE]
    params = {"start": "2024-05-01T00:00:00.000Z", "end": "2024-05-31T00:00:00.000Z", "bots": "only"}
    s, e = parse(params["start"]), parse(params["end"])
    assert await get(client, ORIGIN_PATH, params) == (200, expected_origin(db, s, e, "UTC", "only"))
    assert await until(lambda: engine.watcher.healthy)
    db.users.update_one({"_id": HUMANS[0]["_id"]}, {"$set": {"type": "bot"}})

    async def agrees():
        return await get(client, ORIGIN_PATH, params) == (200, expected_origin(db, s, e, "UTC", "only"))

    assert await until(agrees, seconds=10)
    db.users.update_one({"_id": BOTS[2]["_id"]}, {"$set": {"roles": ["user"]}})
    assert await until(agrees, seconds=10)


async def test_closed_day_edits_are_recounted(client, channels_data):
    db = channels_data
    engine = client.server.app[ENGINE]
    params = {"start": "2024-07-01T00:00:00.000Z", "end": "2024-07-07T00:00:00.000Z", "timezone": "Pacific/Chatham"}
    s, e = parse(params["start"]), parse(params["end"])
    assert await get(client, ORIGIN_PATH, params) == (200, expected_origin(db, s, e, params["timezone"]))
    assert await until(lambda: engine.watcher.healthy)
    in_range = {"ts": {"$gte": datetime(2024, 7, 2, tzinfo=UTC), "$lt": datetime(2024, 7, 6, tzinfo=UTC)}}
    ids = [m["_id"] for m in db.rocketchat_message.find({**in_range, "t": {"$exists": False}}).limit(40)]
    db.rocketchat_message.update_many({"_id": {"$in": ids[:10]}}, {"$set": {"t": "rm"}})
    db.rocketchat_message.update_many({"_id": {"$in": ids[10:20]}}, {"$set": {"_hidden": True}})
    db.rocketchat_message.update_many({"_id": {"$in": ids[20:30]}}, {"$set": {"rid": "D1"}})
    db.rocketchat_message.delete_many({"_id": {"$in": ids[30:40]}})
    await engine.corrections.sweep()  # a deletion names no day: the sweep finds it (on its own within a minute)

    async def agrees():
        rows, _ = await all_rows(client, params)
        return (
            await get(client, ORIGIN_PATH, params) == (200, expected_origin(db, s, e, params["timezone"]))
            and await get(client, TOP_FIVE_PATH, params) == (200, expected_top_five(db, s, e, params["timezone"]))
            and rows == expected_channel_rows(db, s, e, params["timezone"])
        )

    assert await until(agrees, seconds=10)


async def test_a_bot_change_while_stopped_is_recounted_after_a_restart(aiohttp_client, settings, users, channels_data):
    """Kept counts read back from the state database were made with the bot users of then: the days the users who
    changed wrote on are counted again, and only those."""
    from engagement_svc.app import create_app

    db = channels_data
    params = {"start": "2024-03-01T00:00:00.000Z", "end": "2024-04-30T00:00:00.000Z", "bots": "exclude"}
    s, e = parse(params["start"]), parse(params["end"])
    first = await aiohttp_client(create_app(settings))
    assert await get(first, ORIGIN_PATH, params) == (200, expected_origin(db, s, e, "UTC", "exclude"))
    await first.close()
    state = db.client[settings.state_database].engagement_svc_counts
    kept = state.count_documents({})
    assert kept == 61  # the days of the range
    # While no service runs: one person becomes a bot; their messages are on only a few days of the range.
    human = HUMANS[3]["_id"]
    db.rocketchat_message.update_many(
        {"u._id": human, "ts": {"$gte": datetime(2024, 3, 20, tzinfo=UTC)}}, {"$set": {"u._id": HUMANS[2]["_id"]}}
    )
    days = {m["ts"].date() for m in db.rocketchat_message.find({"u._id": human})}
    db.users.update_one({"_id": human}, {"$set": {"type": "bot"}})
    second = await aiohttp_client(create_app(settings))
    for bots in ("exclude", "only", "include"):
        expected = expected_origin(db, s, e, "UTC", bots)
        assert await get(second, ORIGIN_PATH, {**params, "bots": bots}) == (200, expected)
    engine = second.server.app[ENGINE]
    # only the changed user's days are counted again; the rest are read back
    assert engine.stats["recounts"] <= len(days) + 8 and engine.stats["state_hits"] >= 61 - len(days)


async def test_a_database_failure_mid_csv_cuts_the_answer_off(client, db, monkeypatch):
    """Once the rows stream, a status can no longer change: the answer is cut off (no final chunk), never passed
    off as complete. (The failure is injected into the rooms' reads after the first thousand rows.)"""
    import aiohttp
    from pymongo.errors import AutoReconnect

    from engagement_svc.rocketchat import rooms as answers  # what the answer reads the rooms through

    rooms = [room_doc(f"R{i:05d}", "c", f"room-{i}") for i in range(1500)]
    db.rocketchat_room.insert_many(rooms)
    ts = datetime(2024, 2, 1, 12, tzinfo=UTC)
    db.rocketchat_message.insert_many([message_doc(f"x{i}", r["_id"], ts, HUMANS[0]) for i, r in enumerate(rooms)])
    real, calls = answers.room_documents, []

    async def failing(database, rids):
        calls.append(len(rids))
        if len(calls) > 1:
            raise AutoReconnect("connection closed")
        return await real(database, rids)

    monkeypatch.setattr(answers, "room_documents", failing)
    params = {"start": "2024-02-01T00:00:00.000Z", "end": "2024-02-01T23:00:00.000Z", "format": "csv"}
    response = await client.get(CHANNELS_LIST_PATH, params=params, headers=ADMIN_HEADERS)
    assert response.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()
    assert calls == [1000, 500]


def test_compact_rows_read_as_the_rows_they_were_made_from():
    """A remembered channel list keeps its rows compactly; every row, page and length reads back the same; its size
    (what the remembered answers' bound counts) is about what it really holds, measured, and under a third of the
    rows as tuples."""
    rng = random.Random(2)
    found = [
        channels.Row(f"room{i}", rng.randrange(10**9, 2 * 10**9), rng.randrange(10**3, 10**4)) for i in range(1000)
    ]
    compact = channels.Rows(found)
    assert len(compact) == len(found) and list(compact) == found
    assert compact[17] == found[17] and compact[-1] == found[-1]
    for page in (slice(0, 25), slice(990, 1015), slice(1000, 1025), slice(5, 5)):
        assert compact[page] == found[page]
    assert channels.Rows([])[0:25] == [] and len(channels.Rows([])) == 0
    held_compact = allocated(lambda: channels.Rows(found))
    held_tuples = allocated(lambda: [channels.Row(r.rid, r.messages + 10**9, r.previous + 10**4) for r in found])
    assert 0.9 * held_compact <= compact.nbytes <= 1.1 * held_compact, (held_compact, compact.nbytes)  # about
    assert compact.nbytes < held_tuples / 3, (compact.nbytes, held_tuples)


def allocated(make) -> int:
    """The bytes what `make()` returns holds of its own (the room ids it shares with `found` aside)."""
    tracemalloc.start()
    try:
        made = make()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del made
    return held


async def test_the_first_list_asked_is_kept_for_the_next(client, channels_data):
    """The first channel list reads the posts' open days before anything follows them; once it has, it is kept all
    the same: the same list asked again is the one remembered (at big-server size, making a month's list takes
    seconds). Every day it reads is kept first (messages-sent over the whole data)."""
    engine = client.server.app[ENGINE]
    now = datetime.now(UTC)
    channels_data.rocketchat_message.insert_one(message_doc("today", "C3", now - timedelta(minutes=1), HUMANS[1]))
    assert await until(lambda: engine.watcher.healthy)
    everything = {"start": js(now - timedelta(days=731)), "end": js(now), "timezone": "UTC"}
    assert (await get(client, MESSAGES_SENT_PATH, everything))[0] == 200
    params = {"start": js(now - timedelta(days=6)), "end": js(now), "timezone": "UTC"}
    first = await get(client, CHANNELS_LIST_PATH, params)
    assert first[0] == 200 and first[1]["channels"]
    answers = engine.answers.cache
    hits = answers.stats()["hits"]
    assert await get(client, CHANNELS_LIST_PATH, params) == first
    assert answers.stats()["hits"] == hits + 1
