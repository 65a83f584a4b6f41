"""channels/room: one room's days with posters, the period, its top posters and its hours, from counts held in
memory and over a mongod against a brute-force recount in five zones (DST, half-hour and 45-minute offsets) and
a year, for every bots choice; its CSV; a 400 without roomId (after start and end), a 404 for a room that does not
exist or is livechat; a new message in the room within seconds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from engagement_svc.counting.catalog import MESSAGES, POSTS
from engagement_svc.reports import channel_room
from engagement_svc.reports.queries import NotFound
from engagement_svc.reports.sources import Sources
from engagement_svc.resources import ENGINE
from engagement_svc.settings import Settings
from tests.support.data import ADMIN_HEADERS
from tests.support.fake_sources import FakeCounts, FakeMember, FakePeople, FakeRooms, csv_text, seconds
from tests.support.http import get_csv, until
from tests.support.oracle_rooms import expected_room
from tests.support.rocketchat import message_doc
from tests.support.teams import seed_teams

SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")
DASHBOARD = "/api/v1/engagement-dashboard"
ROOM_PATH = f"{DASHBOARD}/channels/room"
DAY = seconds("2024-03-10T10:30:00+00:00")


def fake_sources() -> Sources:
    rooms = FakeRooms([{"_id": "R1", "t": "c", "name": "general"}, {"_id": "L1", "t": "l"}, {"_id": "R2", "t": "p"}])
    messages = [(DAY, "R1")] * 3 + [(DAY, "R1\x1fbot"), (DAY - 86_400, "R1"), (DAY, "R2"), (DAY - 3 * 86_400, "R1")]
    posts = [(DAY, "R1\x1eada")] * 2 + [(DAY, "R1\x1eeve"), (DAY, "R1\x1ebot\x1fbot"), (DAY - 86_400, "R1\x1eeve")]
    posts += [(DAY, "R2\x1ezed"), (DAY - 3 * 86_400, "R1\x1eold")]
    counts = FakeCounts({"messages": messages, "posts": posts}, rooms)
    return Sources(counts, rooms, people=FakePeople([FakeMember("ada", "ada.l"), FakeMember("bot", "helper")]))


def ask(**extra):
    query = {"start": "2024-03-09T00:00:00.000Z", "end": "2024-03-10T23:00:00.000Z", "roomId": "R1", **extra}
    return channel_room.REPORT.params.parse(query, SETTINGS)


async def test_one_rooms_story_from_counts_in_memory():
    s = fake_sources()
    body = await channel_room.REPORT.json(s, ask())
    assert body.startswith('{"room":{"_id":"R1","name":"general","t":"c"},')
    found = json.loads(body)
    assert found["days"] == [
        {"day": "2024-03-10T00:00:00.000Z", "messages": 4, "posters": 3},
        {"day": "2024-03-09T00:00:00.000Z", "messages": 1, "posters": 1},
    ]
    assert found["period"] == {"messages": 5, "variation": 4, "posters": 3}  # the range before: one message
    assert found["topPosters"] == [
        {"_id": "ada", "username": "ada.l", "messages": 2},
        {"_id": "eve", "messages": 2},  # gone: no username
        {"_id": "bot", "username": "helper", "messages": 1},
    ]
    assert [h["messages"] for h in found["hours"]] == [0] * 10 + [5] + [0] * 13  # every one sent at 10:30
    only = json.loads(await channel_room.REPORT.json(s, ask(bots="only")))
    assert only["period"] == {"messages": 1, "variation": 1, "posters": 1}
    name, text = await csv_text(channel_room.REPORT, s, ask())
    assert name == "channel-room_R1_2024-03-09_2024-03-10.csv"
    assert (
        text == '"Date";"Messages";"Posters"\n"2024-03-10T00:00:00.000Z";"4";"3"\n"2024-03-09T00:00:00.000Z";"1";"1"\n'
    )
    for room in ("L1", "NOPE"):
        with pytest.raises(NotFound, match=r"Room not found \[error-room-not-found\]"):
            await channel_room.REPORT.json(s, ask(roomId=room))


@pytest.fixture
def rooms_data(db):
    return seed_teams(db)


CASES = [
    ("2024-03-28T00:00:00.000Z", "2024-04-02T00:00:00.000Z", "Europe/Berlin"),
    ("2024-10-31T00:00:00.000Z", "2024-11-05T00:00:00.000Z", "America/New_York"),
    ("2024-04-05T00:00:00.000Z", "2024-04-09T00:00:00.000Z", "Australia/Lord_Howe"),
    ("2024-02-01T00:00:00.000Z", "2024-02-03T00:00:00.000Z", "Asia/Kathmandu"),
    ("2024-07-01T00:00:00.000Z", "2024-07-20T00:00:00.000Z", "Asia/Kolkata"),
    ("2023-06-01T00:00:00.000Z", "2024-05-31T00:00:00.000Z", "UTC"),
]


async def test_a_rooms_story_equals_a_recount(make_client, users, rooms_data):
    """First with no day kept (each room's days counted for it alone), then again once a channel list over every
    case's days has kept whole days (read for the room from them: memory enough for the posts' days)."""
    client = await make_client(detail_days_mb=64)

    async def every_case():
        for start, end, zone in CASES:
            s, e = (datetime.fromisoformat(x.replace("Z", "+00:00")) for x in (start, end))
            for rid in ("TC1", "C2", "D1", "QUIET"):
                for bots in ("include", "exclude", "only"):
                    params = {"start": start, "end": end, "timezone": zone, "bots": bots, "roomId": rid}
                    response = await client.get(ROOM_PATH, params=params, headers=ADMIN_HEADERS)
                    body = await response.json()
                    assert response.status == 200, body
                    assert body == expected_room(rooms_data, rid, s, e, zone, bots), params

    engine = client.server.app[ENGINE]
    await every_case()
    assert engine.kept()[0] == 0 and engine.stats["partial_days"] > 0
    every_day = {"start": "2023-05-01T00:00:00.000Z", "end": "2024-12-31T00:00:00.000Z"}
    response = await client.get(f"{DASHBOARD}/channels/list", params=every_day, headers=ADMIN_HEADERS)
    assert response.status == 200
    partial = engine.stats["partial_days"]
    await every_case()
    assert engine.stats["partial_days"] == partial  # every day read from the whole days kept


async def test_a_rooms_story_as_csv(client, rooms_data):
    params = {"start": CASES[-1][0], "end": CASES[-1][1], "roomId": "TC1"}
    name, table = await get_csv(client, ROOM_PATH, params)
    body = expected_room(
        rooms_data, "TC1", *(datetime.fromisoformat(x.replace("Z", "+00:00")) for x in CASES[-1][:2]), "UTC"
    )
    assert name == "channel-room_TC1_2023-06-01_2024-05-31.csv"
    assert table == [["Date", "Messages", "Posters"]] + [
        [d["day"], str(d["messages"]), str(d["posters"])] for d in body["days"]
    ]
    assert sum(d["messages"] for d in body["days"]) > 0


async def test_bad_and_unknown_rooms(client, rooms_data):
    async def get(params):
        response = await client.get(ROOM_PATH, params=params, headers=ADMIN_HEADERS)
        return response.status, await response.json()

    base = {"start": "2024-03-01T00:00:00.000Z", "end": "2024-03-05T00:00:00.000Z"}
    assert await get(base) == (400, {"success": False, "error": "Match error: Missing key 'roomId'"})
    assert await get({"end": base["end"]}) == (400, {"success": False, "error": "Match error: Missing key 'start'"})
    for rid in ("L1", "NOPE", "GONE", ""):
        assert await get({**base, "roomId": rid}) == (
            404,
            {"success": False, "error": "Room not found [error-room-not-found]"},
        ), rid


async def test_a_new_message_shows_in_the_rooms_story_within_seconds(client, rooms_data):
    now = datetime.now(UTC)
    params = {"start": (now - timedelta(days=2)).isoformat(), "end": now.isoformat(), "roomId": "QUIET"}

    async def period():
        response = await client.get(ROOM_PATH, params=params, headers=ADMIN_HEADERS)
        return (await response.json())["period"]

    assert await period() == {"messages": 0, "variation": 0, "posters": 0}
    rooms_data.rocketchat_message.insert_one(
        message_doc("live-room", "QUIET", now, {"_id": "Poster00000000003", "username": "poster3"})
    )
    assert await until(lambda: _equals(period(), {"messages": 1, "variation": 1, "posters": 1}), seconds=10)


async def _equals(value, wanted):
    return await value == wanted


async def test_a_rooms_first_answer_counts_its_open_days_alone_and_every_room_is_followed_after(client, rooms_data):
    """The first answer reaching today counts the room's own messages of today (every room's open days are then
    followed in the background, not before it answers): exact, then exact from the stream's counts, and a new
    message in the room counted within seconds."""
    engine = client.server.app[ENGINE]
    assert await until(lambda: engine.watcher.healthy)
    now = datetime.now(UTC)
    poster = {"_id": "Poster00000000003", "username": "poster3"}
    for i, rid in enumerate(["QUIET", "QUIET", "C2", "TC1"]):
        rooms_data.rocketchat_message.insert_one(message_doc(f"today{i}", rid, now - timedelta(seconds=i), poster))
    start, end = now - timedelta(days=2), now + timedelta(minutes=1)
    params = {"start": start.isoformat(), "end": end.isoformat(), "roomId": "QUIET"}
    assert engine.stamp(MESSAGES) is None  # today is not followed yet

    async def story() -> dict:
        response = await client.get(ROOM_PATH, params=params, headers=ADMIN_HEADERS)
        return await response.json()

    assert await story() == expected_room(rooms_data, "QUIET", start, end, "UTC")
    assert await until(lambda: engine.stamp(MESSAGES) is not None and engine.stamp(POSTS) is not None)
    tracked = engine.stats["open_tracked"]
    assert await story() == expected_room(rooms_data, "QUIET", start, end, "UTC")
    assert engine.stats["open_tracked"] > tracked  # today now read from the stream's counts
    rooms_data.rocketchat_message.insert_one(message_doc("later", "QUIET", datetime.now(UTC), poster))
    assert await until(lambda: _equals(story(), expected_room(rooms_data, "QUIET", start, end, "UTC")), seconds=10)
    assert (await story())["period"]["messages"] == 3


async def test_without_the_stream_a_rooms_today_is_counted_for_it_alone(make_client, users, rooms_data):
    """Without the change stream, today was counted for every room (and reused briefly); a room's story now counts
    the room's own, every time: exact in zones of every kind of offset, a new message seen by the next answer."""
    client = await make_client()
    engine = client.server.app[ENGINE]
    engine.watcher.stopping = True  # as when change streams are not allowed: the watcher ends
    assert await until(lambda: not engine.watcher.healthy)
    now = datetime.now(UTC)
    poster = {"_id": "Poster00000000003", "username": "poster3"}
    for i, rid in enumerate(["C2", "C2", "TC1"]):
        rooms_data.rocketchat_message.insert_one(message_doc(f"today{i}", rid, now - timedelta(seconds=i), poster))
    start, end = now - timedelta(days=1), now + timedelta(minutes=1)
    zones = ["UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe", "Pacific/Chatham"]
    for i, zone in enumerate(zones):
        params = {"start": start.isoformat(), "end": end.isoformat(), "roomId": "C2", "timezone": zone}
        response = await client.get(ROOM_PATH, params=params, headers=ADMIN_HEADERS)
        assert await response.json() == expected_room(rooms_data, "C2", start, end, zone), zone
        rooms_data.rocketchat_message.insert_one(message_doc(f"later{i}", "C2", datetime.now(UTC), poster))
    assert engine.stats["open_live"] == 0 and engine.stats["open_tracked"] == 0


async def test_a_deleted_message_leaves_a_rooms_story_counted_for_it_alone(client, rooms_data):
    """The room's days were counted for it alone (no whole day kept); a message deleted from one of them is gone from
    the story, asked again in another zone, within seconds."""
    engine = client.server.app[ENGINE]
    assert await until(lambda: engine.watcher.healthy)
    s, e = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 31, tzinfo=UTC)
    base = {"start": "2024-03-01T00:00:00.000Z", "end": "2024-03-31T00:00:00.000Z", "roomId": "C2"}
    response = await client.get(ROOM_PATH, params={**base, "timezone": "UTC"}, headers=ADMIN_HEADERS)
    assert await response.json() == expected_room(rooms_data, "C2", s, e, "UTC") and engine.kept()[0] == 0
    gone = rooms_data.rocketchat_message.find_one({"rid": "C2", "ts": {"$gte": s, "$lt": e}, "t": {"$exists": False}})
    rooms_data.rocketchat_message.delete_one({"_id": gone["_id"]})

    async def story() -> bool:
        response = await client.get(ROOM_PATH, params={**base, "timezone": "Asia/Kolkata"}, headers=ADMIN_HEADERS)
        return await response.json() == expected_room(rooms_data, "C2", s, e, "Asia/Kolkata")

    assert await until(story, seconds=10)
