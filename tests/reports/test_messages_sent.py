"""Every number equals a brute-force recount of the same documents, in every zone, at every edge, for every value
of `bots`: every day's count and both variations of the JSON, and every cell of the CSV (its dates too)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from engagement_svc.counting.catalog import MESSAGES
from engagement_svc.counting.counter import pipeline as count_pipeline
from tests.support.http import MESSAGES_SENT_PATH, get_csv, get_messages_sent
from tests.support.oracle import count_by_local_day, csv_days, csv_name, expected_body, js
from tests.support.rocketchat import message_doc, room_doc, user_doc

AUTHOR = {"_id": "AuthorId000000001", "username": "author", "name": "Author"}
BOTS = [  # a bot is a user of type bot or app, or one whose roles include bot
    user_doc("BotUser0000000001", "rocket.cat", ["bot"], type="bot"),
    user_doc("AppUser0000000001", "app.poll", ["app"], type="app"),
    user_doc("RoleBot0000000001", "helper", ["user", "bot"]),
]
BOTS_CHOICES = ("include", "exclude", "only")
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Pacific/Chatham",
    "Asia/Almaty",
    "Pacific/Apia",
    "America/St_Johns",
]


def add_rooms(db):
    rooms = [
        room_doc("C1", "c", "general"),
        room_doc("C2", "c", "team", teamMain=True),
        room_doc("P1", "p", "secret"),
        room_doc("P2", "p", "discussion", prid="C1"),
        room_doc("D1", "d", usernames=["a", "b"]),
        room_doc("L1", "l", "visitor"),
        room_doc("V1", "v", "call"),
    ]
    db.rocketchat_room.insert_many(rooms)
    return [r["_id"] for r in rooms]


def insert_messages(db, stamps_and_rooms, rng, mix=True):
    """Messages at the given instants; with `mix`, some are system messages, hidden copies, threads or bots."""
    docs = []
    for i, (ts, rid) in enumerate(stamps_and_rooms):
        doc = message_doc(f"m{i:08d}", rid, ts, AUTHOR)
        if mix:
            roll = rng.random()
            if roll < 0.08:
                doc["t"] = rng.choice(["uj", "ul", "au", "room_changed_topic"])
            elif roll < 0.12:
                doc.update(_hidden=True, parent="m00000000")
            elif roll < 0.16:
                doc["tmid"] = "m00000000"
            elif roll < 0.20:
                doc["bot"] = {"i": "integration1"}  # an integration posting as a person: a bot message
            elif roll < 0.22:
                doc["_hidden"] = False
            elif roll < 0.30:
                doc["u"] = {"_id": BOTS[i % 3]["_id"], "username": BOTS[i % 3]["username"]}
        docs.append(doc)
    if docs:
        db.rocketchat_message.insert_many(docs)
    return docs


def edge_instants(zone_names, years=(2023, 2024)):
    """Local midnights, the millisecond before each, and DST changes of each zone: where off-by-one hides."""
    out = []
    for name in zone_names:
        zone = ZoneInfo(name)
        for year in years:
            for month in range(1, 13):
                for day in (1, 15, 28):
                    midnight = datetime.combine(date(year, month, day), time(0), tzinfo=zone).astimezone(UTC)
                    out += [midnight, midnight - timedelta(milliseconds=1), midnight + timedelta(milliseconds=1)]
            t = datetime(year, 1, 1, tzinfo=UTC)
            while t.year == year:  # every offset change, found hour by hour
                nxt = t + timedelta(hours=1)
                if t.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():
                    out += [nxt - timedelta(milliseconds=1), nxt, nxt + timedelta(minutes=30)]
                t = nxt
    return out


@pytest.fixture
def dataset(db):
    """About 12,000 messages over 2023-2024, dense at every day edge and DST change of the zones tested; some by
    bot users, some by integrations."""
    rng = random.Random(7)
    db.users.insert_many(BOTS)
    rooms = add_rooms(db)
    stamps = edge_instants(ZONES)
    lo = datetime(2022, 12, 1, tzinfo=UTC).timestamp()
    hi = datetime(2025, 1, 31, tzinfo=UTC).timestamp()
    stamps += [
        datetime.fromtimestamp(rng.uniform(lo, hi), UTC).replace(microsecond=rng.randrange(1000) * 1000)
        for _ in range(6000)
    ]
    insert_messages(db, [(ts, rng.choice(rooms)) for ts in stamps], rng)
    return db


async def test_spec_example(client, db):
    add_rooms(db)
    stamps = (
        [(datetime(2023, 5, 22, 9, tzinfo=UTC), "C1")] * 22
        + [(datetime(2023, 5, 21, 23, 59, 59), "P1")] * 5
        + [(datetime(2023, 5, 20, 12, tzinfo=UTC), "D1")] * 3
        + [(datetime(2023, 5, 19, tzinfo=UTC), "C2")] * 4
        + [(datetime(2023, 5, 22, 9, tzinfo=UTC), "L1")] * 7
    )
    insert_messages(db, [(ts.replace(tzinfo=UTC), rid) for ts, rid in stamps], random.Random(0), mix=False)
    status, body = await get_messages_sent(
        client, {"start": "2023-05-21T00:00:00.000Z", "end": "2023-05-22T10:00:00.000Z"}
    )
    assert status == 200
    assert body == {
        "days": [
            {"day": "2023-05-22T00:00:00.000Z", "messages": 22},
            {"day": "2023-05-21T00:00:00.000Z", "messages": 5},
        ],
        "period": {"count": 27, "variation": 20},
        "yesterday": {"count": 5, "variation": 17},
        "success": True,
    }


class Recount:
    """The brute-force counts per local day, made once per zone and value of `bots`."""

    def __init__(self, db):
        self.db, self.days = db, {}

    def body(self, start: datetime, end: datetime, zone: str, bots: str) -> dict:
        if (zone, bots) not in self.days:
            self.days[zone, bots] = count_by_local_day(self.db, ZoneInfo(zone), bots)
        return expected_body(self.db, start, end, zone, self.days[zone, bots])


async def check_json_and_csv(client, recount: Recount, start: datetime, end: datetime, zone: str, bots: str) -> dict:
    """The JSON equals the recount's body, and the CSV holds the same days, dates and counts, cell for cell."""
    params = {"start": js(start), "end": js(end), "timezone": zone, "bots": bots}
    expected = recount.body(start, end, zone, bots)
    assert await get_messages_sent(client, params) == (200, expected), params
    name, rows = await get_csv(client, MESSAGES_SENT_PATH, params)
    assert rows == csv_days(expected, "Messages"), params
    assert name == csv_name("messages-sent", start, end, zone)
    return expected


async def test_random_ranges_and_zones_match_brute_force(client, dataset):
    rng = random.Random(11)
    recount = Recount(dataset)
    lo = datetime(2022, 12, 1, tzinfo=UTC).timestamp()
    hi = datetime(2025, 1, 31, tzinfo=UTC).timestamp()
    checked = dict.fromkeys(BOTS_CHOICES, 0)
    for i in range(80):
        zone, bots = rng.choice(ZONES), BOTS_CHOICES[i % 3]
        start = datetime.fromtimestamp(rng.uniform(lo, hi), UTC)
        end = start + timedelta(
            seconds=rng.choice([0, 1, 3600, 86_399, 86_400, 7 * 86_400, rng.uniform(0, 400 * 86_400)])
        )
        start = start.replace(microsecond=start.microsecond // 1000 * 1000)  # what JavaScript's form keeps
        end = end.replace(microsecond=end.microsecond // 1000 * 1000)
        body = await check_json_and_csv(client, recount, start, end, zone, bots)
        checked[bots] += body["period"]["count"]
    assert min(checked.values()) > 300, checked  # the ranges really held messages, of people and of bots


async def test_dst_and_offset_changes_for_every_value_of_bots(client, dataset):
    """Days of 23 and 25 hours, half-hour and 45-minute offsets: every day, both variations and every CSV cell,
    with bot messages included, left out, and alone; and the two halves add up to the whole, day by day."""
    recount = Recount(dataset)
    cases = [
        ("Europe/Berlin", "2023-03-20T00:00:00Z", "2023-04-02T00:00:00Z"),  # spring forward on 26 March 2023
        ("Europe/Berlin", "2024-03-25T00:00:00Z", "2024-04-03T00:00:00Z"),  # and on 31 March 2024
        ("Europe/Berlin", "2024-10-21T00:00:00Z", "2024-11-03T00:00:00Z"),  # fall back on 27 October
        ("America/New_York", "2024-03-05T12:00:00Z", "2024-03-15T12:00:00Z"),  # 10 March
        ("America/New_York", "2023-10-30T12:00:00Z", "2023-11-08T12:00:00Z"),  # 5 November 2023
        ("America/New_York", "2024-10-30T12:00:00Z", "2024-11-06T12:00:00Z"),  # 3 November 2024
        ("Asia/Kolkata", "2024-01-01T00:00:00Z", "2024-01-31T00:00:00Z"),  # +5:30
        ("Asia/Kathmandu", "2024-02-25T00:00:00Z", "2024-03-05T00:00:00Z"),  # +5:45
        ("Australia/Lord_Howe", "2024-03-30T00:00:00Z", "2024-04-10T00:00:00Z"),  # half-hour DST
        ("Asia/Almaty", "2024-02-20T00:00:00Z", "2024-03-10T00:00:00Z"),  # +06 to +05 on 1 March 2024
    ]
    for zone, start, end in cases:
        s, e = datetime.fromisoformat(start), datetime.fromisoformat(end)
        bodies = {bots: await check_json_and_csv(client, recount, s, e, zone, bots) for bots in BOTS_CHOICES}
        assert sum(d["messages"] for d in bodies["include"]["days"]) == bodies["include"]["period"]["count"] > 0
        assert bodies["only"]["period"]["count"] > 0 and bodies["exclude"]["period"]["count"] > 0, zone
        for whole, people, bots in zip(*(bodies[b]["days"] for b in BOTS_CHOICES), strict=True):
            assert whole["day"] == people["day"] == bots["day"], zone
            assert whole["messages"] == people["messages"] + bots["messages"], (zone, whole["day"])


async def test_day_instants_across_dst(client, db):
    status, body = await get_messages_sent(
        client, {"start": "2024-03-30T12:00:00Z", "end": "2024-04-01T12:00:00Z", "timezone": "Europe/Berlin"}
    )
    assert status == 200
    assert [d["day"] for d in body["days"]] == [
        "2024-03-31T22:00:00.000Z",
        "2024-03-30T23:00:00.000Z",
        "2024-03-29T23:00:00.000Z",
    ]


async def test_default_zone_comes_from_settings(make_client, users, dataset):
    client = await make_client(timezone="America/New_York")
    params = {"start": "2024-11-01T00:00:00Z", "end": "2024-11-05T00:00:00Z"}
    _, implicit = await get_messages_sent(client, params)
    _, explicit = await get_messages_sent(client, params | {"timezone": "America/New_York"})
    assert (
        implicit
        == explicit
        == expected_body(
            dataset, datetime(2024, 11, 1, tzinfo=UTC), datetime(2024, 11, 5, tzinfo=UTC), "America/New_York"
        )
    )
    assert implicit["days"][0]["day"] == "2024-11-04T05:00:00.000Z"


async def test_what_counts(client, db):
    add_rooms(db)
    ts = datetime(2024, 6, 10, 12, tzinfo=UTC)
    counted = [
        message_doc("plain", "C1", ts, AUTHOR),
        message_doc("team", "C2", ts, AUTHOR),
        message_doc("private", "P1", ts, AUTHOR),
        message_doc("discussion", "P2", ts, AUTHOR),
        message_doc("direct", "D1", ts, AUTHOR),
        message_doc("thread", "C1", ts, AUTHOR, tmid="plain"),
        message_doc("bot", "C1", ts, {"_id": "rocket.cat", "username": "rocket.cat"}, bot={"i": "x"}),
        message_doc("file", "P1", ts, AUTHOR, file={"_id": "f"}, attachments=[{"title": "a.png"}]),
        message_doc("edited", "C1", ts, AUTHOR, editedAt=ts, editedBy={"_id": AUTHOR["_id"]}),
        message_doc("not-hidden", "C1", ts, AUTHOR, _hidden=False),
    ]
    excluded = [
        message_doc("join", "C1", ts, AUTHOR, t="uj"),
        message_doc("topic", "P1", ts, AUTHOR, t="room_changed_topic"),
        message_doc("null-t", "C1", ts, AUTHOR, t=None),
        message_doc("copy", "C1", ts, AUTHOR, _hidden=True, parent="edited"),
        message_doc("livechat", "L1", ts, AUTHOR, token="visitor"),
        message_doc("voip", "V1", ts, AUTHOR),
        message_doc("orphan", "NoSuchRoom", ts, AUTHOR),
        message_doc("before", "C1", datetime(2024, 6, 8, 23, 59, 59, 999000, tzinfo=UTC), AUTHOR),
        message_doc("after", "C1", datetime(2024, 6, 11, tzinfo=UTC), AUTHOR),
    ]
    db.rocketchat_message.insert_many(counted + excluded)
    status, body = await get_messages_sent(
        client, {"start": "2024-06-09T00:00:00.000Z", "end": "2024-06-10T23:59:59.999Z"}
    )
    assert status == 200
    assert body["days"] == [
        {"day": "2024-06-10T00:00:00.000Z", "messages": len(counted)},
        {"day": "2024-06-09T00:00:00.000Z", "messages": 0},
    ]
    assert body["period"] == {"count": 10, "variation": 10 - 1}  # "before" is in the window before the range
    assert body["yesterday"] == {"count": 0, "variation": 10}


async def test_empty_database(client):
    status, body = await get_messages_sent(client, {"start": "2024-01-01T00:00:00Z", "end": "2024-01-07T00:00:00Z"})
    assert status == 200
    assert body["days"] == [{"day": f"2024-01-0{d}T00:00:00.000Z", "messages": 0} for d in range(7, 0, -1)]
    assert body["period"] == body["yesterday"] == {"count": 0, "variation": 0}


async def test_single_day_uses_the_day_before_for_variations(client, dataset):
    start, end = datetime(2024, 7, 4, 3, tzinfo=UTC), datetime(2024, 7, 4, 20, tzinfo=UTC)
    status, body = await get_messages_sent(client, {"start": js(start), "end": js(end)})
    expected = expected_body(dataset, start, end, "UTC")
    assert status == 200 and body == expected and len(body["days"]) == 1
    counts = count_by_local_day(dataset, ZoneInfo("UTC"))
    assert body["yesterday"]["count"] == counts[date(2024, 7, 3)]
    assert body["period"]["variation"] == counts[date(2024, 7, 4)] - counts[date(2024, 7, 3)]


async def test_year_long_and_maximum_ranges(client, dataset):
    for start, end in [
        ("2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z"),
        ("2023-01-01T00:00:00Z", "2024-12-31T00:00:00Z"),
    ]:
        for zone in ("UTC", "Europe/Berlin", "Asia/Kolkata"):
            status, body = await get_messages_sent(client, {"start": start, "end": end, "timezone": zone})
            assert status == 200
            assert body == expected_body(dataset, datetime.fromisoformat(start), datetime.fromisoformat(end), zone)
    assert len(body["days"]) == 731 and body["period"]["count"] > 0


def walk_stages(plan):
    if isinstance(plan, dict):
        if "stage" in plan:
            yield plan
        for value in plan.values():
            yield from walk_stages(value)
    elif isinstance(plan, list):
        for value in plan:
            yield from walk_stages(value)


@pytest.mark.parametrize(
    "days",
    [
        [date(2024, 1, 1) + timedelta(days=i) for i in range(60)],  # one span
        [date(2024, 1, 1), date(2024, 1, 2), date(2024, 2, 10), date(2024, 3, 30)],  # three spans: an $or of ranges
    ],
)
def test_query_uses_the_ts_index(dataset, days):
    epoch = date(1970, 1, 1).toordinal()  # the pipeline takes UTC days as days since 1970-01-01
    pipeline = count_pipeline(MESSAGES, [d.toordinal() - epoch for d in days])
    plan = dataset.command(
        "explain", {"aggregate": "rocketchat_message", "pipeline": pipeline, "cursor": {}}, verbosity="queryPlanner"
    )
    stages = list(walk_stages(plan))
    assert not [s for s in stages if s["stage"] == "COLLSCAN"]
    scans = [s for s in stages if s["stage"] == "IXSCAN"]
    assert scans and all(s["keyPattern"] == {"ts": 1} for s in scans)


async def test_every_database_call_carries_a_time_limit(make_client, users, db):
    """Calls a request makes carry what is left of its deadline; shared background counts carry their own."""
    from engagement_svc.counting.work import BACKGROUND_TIMEOUT_S

    client = await make_client(query_timeout_ms=4321)
    add_rooms(db)
    insert_messages(db, [(datetime(2024, 1, 1, 12, tzinfo=UTC), "C1")], random.Random(1), mix=False)
    db.command("profile", 2)
    try:
        assert (await get_messages_sent(client, {"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"}))[
            0
        ] == 200
    finally:
        db.command("profile", 0)
    profiled = list(db.system.profile.find({"ns": {"$ne": f"{db.name}.system.profile"}}))
    # A getMore goes on under its cursor's limit (MongoDB counts the cursor's time against the command's).
    ops = [p["originatingCommand"] if "getMore" in p["command"] else p["command"] for p in profiled]
    assert {"find", "aggregate"} <= {next(iter(op)) for op in ops}
    assert all(0 < op.get("maxTimeMS", 0) <= BACKGROUND_TIMEOUT_S * 1000 for op in ops), ops
    request_ops = [  # the sign-in's lookups (the bot users are read by the shared background count)
        op
        for op in ops
        if next(iter(op)) == "find" and op["find"] in ("users", "rocketchat_permissions") and "_id" in op["filter"]
    ]
    assert request_ops and all(op["maxTimeMS"] <= 4321 for op in request_ops), request_ops
