"""users/members over a real mongod: every row (the user as shown, messages and channel messages, days active and
per client, the last day active and posted, looking back before the range) equals a brute-force recount of the
users, messages and sessions, JSON and every CSV cell, in zones with DST changes and odd offsets; bots and activity
choose rows (never what is counted); every sort key both ways, ties by _id in code-point order, nulls below every
value; pages as channels/list's; users without username, name, type, roles or createdAt, deactivated users, guests
(never rows), deleted authors (never rows); bad sort, activity, bots, offset and count are 400s naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from engagement_svc.reports import members
from engagement_svc.reports.sources import Sources
from engagement_svc.settings import Settings
from tests.support.data import ADMIN_HEADERS, ADMIN_ID, USER_ID
from tests.support.fake_sources import FakeCounts, FakeMember, FakePeople, FakeRooms, csv_text, seconds
from tests.support.http import MEMBERS_PATH, get_csv
from tests.support.oracle import Snapshot
from tests.support.oracle_people import SORT_KEYS, csv_members, expected_member_rows, member_page
from tests.support.people import SERVER, seeded_workspace
from tests.support.rocketchat import EVERY_DEVICE, Login, message_doc, room_doc, session_documents
from tests.support.rocketchat import user_doc as make_user

BOTS_CHOICES = ("include", "exclude", "only")
ACTIVITIES = ("all", "active", "dormant")
CASES = [  # (start, end, zone): each zone's DST changes of 2024 in that zone, the odd offsets, nothing, a year
    ("2024-03-25T00:00:00.000Z", "2024-04-03T00:00:00.000Z", "Europe/Berlin"),  # 31 March: 23 hours
    ("2024-10-21T00:00:00.000Z", "2024-10-31T00:00:00.000Z", "Europe/Berlin"),  # 27 October: 25 hours
    ("2024-10-28T00:00:00.000Z", "2024-11-06T00:00:00.000Z", "America/New_York"),  # 3 November
    ("2024-03-01T00:00:00.000Z", "2024-03-14T12:00:00.000Z", "America/Havana"),  # 10 March: no midnight
    ("2024-04-01T00:00:00.000Z", "2024-04-11T00:00:00.000Z", "Australia/Lord_Howe"),  # 7 April: 24.5 hours
    ("2024-10-01T00:00:00.000Z", "2024-10-07T23:00:00.000Z", "Australia/Lord_Howe"),  # 6 October: 23.5 hours
    ("2024-03-10T00:00:00.000Z", "2024-03-20T00:00:00.000Z", "Asia/Kolkata"),  # +5:30
    ("2024-03-15T00:00:00.000Z", "2024-03-25T00:00:00.000Z", "Asia/Kathmandu"),  # +5:45
    ("2024-06-10T00:00:00.000Z", "2024-06-12T00:00:00.000Z", "UTC"),  # no session: last days from before
    ("2023-05-01T00:00:00.000Z", "2023-05-31T00:00:00.000Z", "UTC"),  # before everything: all null and zero
    ("2024-01-01T00:00:00.000Z", "2024-12-31T00:00:00.000Z", "America/New_York"),  # the whole year
]
SORT_CASE = ("2024-03-18T00:00:00.000Z", "2024-04-05T00:00:00.000Z", "Asia/Kathmandu")


def parse(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


async def get(client, params):
    response = await client.get(MEMBERS_PATH, params=params, headers=ADMIN_HEADERS)
    return response.status, await response.json()


@pytest.fixture(scope="module")
def workspace(sync_client):
    """One seeded workspace for the whole module, served by `app` (tests/reports/conftest.py)."""
    yield from seeded_workspace(sync_client, "rc_members_", seed=26)


# -- by hand ------------------------------------------------------------------------------------------------------
ANN, BEN, CAT, DEE, EVE = (
    "AnnUser0000000001",
    "BenUser0000000001",
    "rocket.cat",
    "deeUser0000000001",
    "EveUser0000000001",
)
DEVICE = {d.get("type", "no type") if d else "none": d for d in EVERY_DEVICE}
HAND = {"start": "2024-05-01T00:00:00.000Z", "end": "2024-05-04T12:00:00.000Z", "timezone": "UTC"}


def at(month, day, hour=12):
    return datetime(2024, month, day, hour, tzinfo=UTC)


def hand_made(db):
    """Beside the admin and jdoe (dormant; jdoe posted last in 2021): ann posts and logs in from three clients;
    ben (deactivated) posts, once through an integration, and last logged in on the last evening of 2022, until
    midnight; rocket.cat posts and logs in after the range; dee has no username, name, type or createdAt and only
    system and livechat messages; Eve (deactivated) did nothing; a guest and a deleted author post and log in
    (never rows). The last days reach back past 400 days."""
    joined = datetime(2022, 6, 1, tzinfo=UTC)
    dee = make_user(DEE, "dee", ["user"], [])
    for field in ("username", "name", "type", "createdAt"):
        del dee[field]
    ben = make_user(BEN, "ben", ["user"], [], createdAt=joined, active=False)
    del ben["name"]
    db.users.insert_many(
        [
            make_user(ANN, "ann", ["user"], [], createdAt=joined),
            ben,
            make_user(CAT, "rocket.cat", ["bot"], [], type="bot"),
            dee,
            make_user(
                EVE, "Eve", ["user"], [], active=False, createdAt=datetime(2024, 5, 2, 8, 30, 0, 123000, tzinfo=UTC)
            ),
            make_user("Guest000000000001", "guest", ["anonymous"], []),
        ]
    )
    db.rocketchat_room.insert_many(
        [
            room_doc("C1", "c", "general"),
            room_doc("P1", "p", "secret"),
            room_doc("D1", "d", usernames=["ann", "ben"]),
            room_doc("L1", "l", "visitor"),
        ]
    )
    people = {uid: {"_id": uid, "username": uid.lower()} for uid in (ANN, BEN, CAT, DEE, USER_ID, "Guest000000000001")}
    people["Gone"] = {"_id": "GoneUser000000001", "username": "gone"}
    messages = [
        ("C1", at(5, 1), ANN, {}),
        ("C1", at(5, 2), ANN, {}),
        ("D1", at(5, 3), ANN, {}),
        ("C1", at(5, 6), ANN, {}),  # after the range: not counted, not its last day posted
        ("P1", at(5, 2), BEN, {}),
        ("C1", at(5, 3), BEN, {"bot": {"i": "hook"}}),  # an integration as ben: a bot message, still ben's
        ("C1", at(4, 20), BEN, {}),  # before the range
        ("C1", datetime(2021, 6, 1, 9, tzinfo=UTC), USER_ID, {}),  # jdoe, long ago: dormant, and his last day posted
        ("C1", at(5, 4), CAT, {}),
        ("C1", at(5, 2), DEE, {"t": "uj"}),  # not sent: a system message
        ("L1", at(5, 2), DEE, {}),  # livechat
        ("C1", at(5, 2), "Guest000000000001", {}),
        ("C1", at(5, 2), "Gone", {}),
    ]
    db.rocketchat_message.insert_many(
        [message_doc(f"m{i}", rid, ts, people[who], **extra) for i, (rid, ts, who, extra) in enumerate(messages)]
    )
    logins = [
        Login(ANN, "user", at(5, 1, 9), at(5, 1, 10), device=DEVICE["browser"]),
        Login(ANN, "user", at(5, 2, 9), at(5, 2, 10), device=DEVICE["desktop-app"]),
        Login(ANN, "user", at(5, 4, 22), at(5, 5, 2), device=DEVICE["mobile-app"]),  # past the range's last day
        # ben, long ago, until the stroke of midnight: the next day is not covered (the end is excluded)
        Login(BEN, "user", datetime(2022, 12, 31, 23, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC)),
        Login(CAT, "bot", at(5, 5, 1), at(5, 5, 2), device=DEVICE["other"]),  # after the range only
        Login("Guest000000000001", "anonymous", at(5, 2, 9), at(5, 2, 10)),
        Login("GoneUser000000001", "user", at(5, 2, 9), at(5, 2, 10)),
    ]
    db.rocketchat_sessions.insert_many(session_documents(logins, datetime.now(UTC), SERVER))


def shown(uid, username=None, name=None, kind="user", active=True, created=None):
    user = {"_id": uid, "username": username, "name": name, "type": kind, "active": active, "createdAt": created}
    return {k: v for k, v in user.items() if v is not None}


def member(user, messages=0, channel=0, days=0, clients=(0, 0, 0, 0), last_active=None, last_posted=None):
    return {
        "user": user,
        "messages": messages,
        "channelMessages": channel,
        "daysActive": days,
        "clients": dict(zip(("web", "desktop", "mobile", "other"), clients, strict=True)),
        "lastActive": last_active and f"{last_active}T00:00:00.000Z",
        "lastPosted": last_posted and f"{last_posted}T00:00:00.000Z",
    }


JOINED, RC_JOINED = "2022-06-01T00:00:00.000Z", "2022-01-10T00:00:00.000Z"
HAND_ROWS = {  # by hand, each row as the contract writes it
    ANN: member(shown(ANN, "ann", "Ann", created=JOINED), 3, 2, 3, (1, 1, 1, 0), "2024-05-04", "2024-05-03"),
    BEN: member(shown(BEN, "ben", active=False, created=JOINED), 2, 2, 0, (0, 0, 0, 0), "2022-12-31", "2024-05-03"),
    CAT: member(shown(CAT, "rocket.cat", "Rocket Cat", "bot", created=RC_JOINED), 1, 1, last_posted="2024-05-04"),
    DEE: member(shown(DEE)),
    EVE: member(shown(EVE, "Eve", "Eve", active=False, created="2024-05-02T08:30:00.123Z")),
    ADMIN_ID: member(shown(ADMIN_ID, "admin", "Admin", created=RC_JOINED)),
    USER_ID: member(shown(USER_ID, "jdoe", "Jdoe", created=RC_JOINED), last_posted="2021-06-01"),
}


async def test_a_few_members_by_hand(client, db):
    hand_made(db)
    s, e = parse(HAND["start"]), parse(HAND["end"])
    # ids in code-point order: AdminUserId, AnnUser, BenUser, EveUser, PlainUserId (jdoe), deeUser, rocket.cat
    orders = {
        ("-messages", "include", "all"): [ANN, BEN, CAT, ADMIN_ID, EVE, USER_ID, DEE],
        ("messages", "include", "all"): [ADMIN_ID, EVE, USER_ID, DEE, CAT, BEN, ANN],
        ("-messages", "exclude", "all"): [ANN, BEN, ADMIN_ID, EVE, USER_ID, DEE],
        ("-messages", "only", "all"): [CAT],
        ("-messages", "include", "active"): [ANN, BEN, CAT],
        ("-messages", "include", "dormant"): [ADMIN_ID, USER_ID, DEE],  # Eve is deactivated: no seat
        ("-messages", "only", "dormant"): [],
        ("username", "include", "all"): [DEE, EVE, ADMIN_ID, ANN, BEN, USER_ID, CAT],  # no username first; E < a
        ("-username", "include", "all"): [CAT, USER_ID, BEN, ANN, ADMIN_ID, EVE, DEE],
        ("lastActive", "include", "all"): [ADMIN_ID, EVE, USER_ID, DEE, CAT, BEN, ANN],
        ("-lastActive", "include", "all"): [ANN, BEN, ADMIN_ID, EVE, USER_ID, DEE, CAT],
        ("-lastPosted", "include", "all"): [CAT, ANN, BEN, USER_ID, ADMIN_ID, EVE, DEE],
        ("createdAt", "include", "all"): [DEE, ADMIN_ID, USER_ID, CAT, ANN, BEN, EVE],
        ("-createdAt", "include", "all"): [EVE, ANN, BEN, ADMIN_ID, USER_ID, CAT, DEE],
        ("-daysActive", "exclude", "active"): [ANN, BEN],
        ("channelMessages", "include", "active"): [CAT, ANN, BEN],  # ann and ben tie: by _id
    }
    for (sort, bots, activity), ids in orders.items():
        rows = [HAND_ROWS[uid] for uid in ids]
        assert expected_member_rows(db, s, e, "UTC", bots, activity, sort) == rows, (sort, bots, activity)
        params = {**HAND, "sort": sort, "bots": bots, "activity": activity}
        assert await get(client, params) == (200, member_page(rows)), params
        name, csv_rows = await get_csv(client, MEMBERS_PATH, params)
        assert csv_rows == csv_members(rows) and name.endswith("_2024-05-01_2024-05-04.csv"), params
    # the CSV of ann and dee, cell by cell
    _, csv_rows = await get_csv(client, MEMBERS_PATH, {**HAND, "sort": "-messages"})
    last_days = ["2024-05-04T00:00:00.000Z", "2024-05-03T00:00:00.000Z"]
    assert csv_rows[1] == ["ann", "Ann", "user", "true", JOINED, "3", "2", "3", "1", "1", "1", "0", *last_days]
    assert csv_rows[-1] == ["", "", "user", "true", "", "0", "0", "0", "0", "0", "0", "0", "", ""]
    # in Kathmandu (+5:45) ann's last session (22:00-02:00 UTC on 4-5 May) is 5 May: after the range's last day
    kathmandu = {**HAND, "timezone": "Asia/Kathmandu", "end": "2024-05-04T12:00:00.000Z"}
    status, body = await get(client, kathmandu)
    assert status == 200 and body == member_page(expected_member_rows(db, s, e, "Asia/Kathmandu"), 0, 0), body
    assert body["members"][0]["lastActive"] == "2024-05-01T18:15:00.000Z" and body["members"][0]["daysActive"] == 2


# -- the workspace ------------------------------------------------------------------------------------------------
async def test_every_zone_and_bots_equal_a_recount(app, workspace):
    """Every case for every value of bots, all rows on one page (count 100), and the CSV's every cell."""
    recount = Snapshot(workspace)
    seen = {"rows": 0, "no username": 0, "null lastActive": 0, "null lastPosted": 0, "posted before": 0}
    for start, end, zone in CASES:
        for bots in BOTS_CHOICES:
            params = {"start": start, "end": end, "timezone": zone, "bots": bots, "count": "100"}
            rows = expected_member_rows(recount, parse(start), parse(end), zone, bots)
            assert await get(app, params) == (200, member_page(rows, 0, 100)), params
            name, csv_rows = await get_csv(app, MEMBERS_PATH, params)
            assert csv_rows == csv_members(rows), params
            first, last = (parse(s).astimezone(ZoneInfo(zone)).date() for s in (start, end))
            assert name.endswith(f"_{first}_{last}.csv"), name
            seen["rows"] += len(rows)
            seen["no username"] += sum("username" not in r["user"] for r in rows)
            seen["null lastActive"] += sum(r["lastActive"] is None for r in rows)
            seen["null lastPosted"] += sum(r["lastPosted"] is None for r in rows)
            seen["posted before"] += sum(r["lastPosted"] is not None and r["messages"] == 0 for r in rows)
    assert all(seen.values()), seen


async def test_activity_chooses_rows(app, workspace):
    """Each activity with each value of bots, in two zones: the rows and the CSV."""
    recount = Snapshot(workspace)
    for start, end, zone in (CASES[1], CASES[7]):
        sizes = {}
        for activity in ACTIVITIES:
            for bots in BOTS_CHOICES:
                params = {"start": start, "end": end, "timezone": zone, "bots": bots, "activity": activity}
                rows = expected_member_rows(recount, parse(start), parse(end), zone, bots, activity)
                assert await get(app, {**params, "count": "100"}) == (200, member_page(rows, 0, 100)), params
                _, csv_rows = await get_csv(app, MEMBERS_PATH, params)
                assert csv_rows == csv_members(rows), params
                sizes[activity, bots] = len(rows)
        assert sizes["active", "include"] > 0 and sizes["dormant", "include"] > 0, sizes
        assert sizes["active", "include"] + sizes["dormant", "include"] < sizes["all", "include"]  # deactivated


async def test_every_sort_both_ways_page_by_page(app, workspace):
    """Every sort key, ascending and descending, read seven rows a page: each page (total, offset, count) and
    the rows read end to end equal the recount; the CSV follows the sort."""
    start, end, zone = SORT_CASE
    recount = Snapshot(workspace)
    for key in SORT_KEYS:
        for sort in (key, "-" + key):
            rows = expected_member_rows(recount, parse(start), parse(end), zone, "include", "all", sort)
            for offset in range(0, len(rows) + 1, 7):
                params = {"start": start, "end": end, "timezone": zone, "sort": sort}
                page = {**params, "offset": str(offset), "count": "7"}
                assert await get(app, page) == (200, member_page(rows, offset, 7)), page
            if key in ("username", "lastPosted", "createdAt"):
                _, csv_rows = await get_csv(app, MEMBERS_PATH, params)
                assert csv_rows == csv_members(rows), sort
    values = {r["messages"] for r in rows}
    assert len(rows) > 50 and len(values) < len(rows)  # ties


async def test_paging_edges(app, workspace):
    start, end, zone = SORT_CASE
    params = {"start": start, "end": end, "timezone": zone}
    rows = expected_member_rows(Snapshot(workspace), parse(start), parse(end), zone)
    assert len(rows) > 50
    for offset, count in [(0, 0), (0, 100), (0, 1), (len(rows) - 1, 5), (len(rows), 10), (len(rows) + 40, 0)]:
        asked = {**params, "offset": str(offset), "count": str(count)}
        assert await get(app, asked) == (200, member_page(rows, offset, count)), asked
    assert (await get(app, params))[1]["count"] == 50  # no count: the default
    _, csv_rows = await get_csv(app, MEMBERS_PATH, {**params, "offset": "5", "count": "3"})
    assert csv_rows == csv_members(rows)  # every row, whatever the page


async def test_bad_input_is_a_400_naming_the_field(app):
    good = {"start": "2024-03-01T00:00:00.000Z", "end": "2024-03-07T00:00:00.000Z"}
    for key, value in [
        ("offset", "-1"),
        ("offset", "abc"),
        ("count", "101"),
        ("count", "1.5"),
        ("count", "-5"),
        ("sort", "bogus"),
        ("sort", "--messages"),
        ("sort", "+messages"),
        ("sort", "name"),  # a channels/list key, not a members one
        ("sort", "Messages"),
        ("sort", ""),
        ("activity", "idle"),
        ("activity", "ACTIVE"),
        ("activity", ""),
        ("bots", "maybe"),
        ("bots", ""),
    ]:
        status, body = await get(app, {**good, key: value})
        assert status == 400 and body["success"] is False and f"'{key}'" in body["error"], (key, value, body)
    for params, text in [({"count": "x"}, "Missing key 'start'"), ({"start": good["start"]}, "Missing key 'end'")]:
        assert await get(app, params) == (400, {"success": False, "error": f"Match error: {text}"})


# -- the report on counts held in memory (no mongod) ------------------------------------------------------------------
FAKE_DAY = seconds("2024-03-10T12:00:00+00:00")
FAKE_MEMBERS = [
    FakeMember("A", "ada", "Ada", created=datetime(2024, 1, 1, tzinfo=UTC)),
    FakeMember("B", "bob", None, type="bot", bot=True),
    FakeMember("C", None, "Cyd"),  # no username: first when sorted by it
    FakeMember("D", "dee", "Dee", active=False),  # deactivated: never a dormant seat
    FakeMember("E", "=eve", "Eve"),  # a name a spreadsheet would run
]
FAKE_EVENTS = {
    "posts": [
        (FAKE_DAY, "C1\x1eA"),
        (FAKE_DAY, "D1\x1eA"),
        (FAKE_DAY, "C1\x1eB\x1fbot"),
        (FAKE_DAY - 40 * 86_400, "C1\x1eE"),  # long before the range: its last day posted
        (FAKE_DAY, "C1\x1eGONE"),  # an author without an account: no row
    ],
    "active_users": [(FAKE_DAY, "A"), (FAKE_DAY - 86_400, "A"), (FAKE_DAY - 50 * 86_400, "C")],
    "client_sessions": [
        (FAKE_DAY, "A\x1eweb"),
        (FAKE_DAY - 86_400, "A\x1emobile"),
        (FAKE_DAY - 50 * 86_400, "C\x1eweb"),
    ],
}
UNIT_SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")


def fake_sources() -> Sources:
    rooms = FakeRooms([{"_id": "C1", "t": "c"}, {"_id": "D1", "t": "d"}])
    counts = FakeCounts({name: list(events) for name, events in FAKE_EVENTS.items()}, rooms)
    return Sources(counts, rooms, people=FakePeople(FAKE_MEMBERS))


async def fake_rows(s, **query):
    base = {"start": "2024-03-09T00:00:00.000Z", "end": "2024-03-10T23:59:59.999Z", "timezone": "UTC"}
    q = members.REPORT.params.parse({**base, **query}, UNIT_SETTINGS)
    return json.loads(await members.REPORT.json(s, q))


async def test_members_from_counts_in_memory_sorted_filtered_and_looked_back():
    s = fake_sources()
    body = await fake_rows(s)
    assert [m["user"]["_id"] for m in body["members"]] == ["A", "B", "C", "D", "E"]  # -messages, ties by _id
    ada = body["members"][0]
    assert ada == {
        "user": {"_id": "A", "username": "ada", "name": "Ada", "type": "user", "active": True,
                 "createdAt": "2024-01-01T00:00:00.000Z"},
        "messages": 2, "channelMessages": 1, "daysActive": 2,
        "clients": {"web": 1, "desktop": 0, "mobile": 1, "other": 0},
        "lastActive": "2024-03-10T00:00:00.000Z", "lastPosted": "2024-03-10T00:00:00.000Z",
    }  # fmt: skip
    cyd, eve = body["members"][2], body["members"][4]
    assert (cyd["lastActive"], cyd["lastPosted"], "username" in cyd["user"]) == (
        "2024-01-20T00:00:00.000Z",
        None,
        False,
    )
    assert (eve["lastActive"], eve["lastPosted"]) == (None, "2024-01-30T00:00:00.000Z")
    assert body["members"][1]["user"]["type"] == "bot" and "name" not in body["members"][1]["user"]
    order = {
        "username": ["C", "E", "A", "B", "D"],  # no username first, then by code point ("=" before letters)
        "-username": ["D", "B", "A", "E", "C"],
        "lastActive": ["B", "D", "E", "C", "A"],  # nulls first, ties by _id
        "-lastActive": ["A", "C", "B", "D", "E"],  # nulls last, ties still by _id
        "-lastPosted": ["A", "B", "E", "C", "D"],
        "createdAt": ["B", "C", "D", "E", "A"],
        "daysActive": ["B", "C", "D", "E", "A"],
    }
    for sort, ids in order.items():
        assert [m["user"]["_id"] for m in (await fake_rows(s, sort=sort))["members"]] == ids, sort
    assert [m["user"]["_id"] for m in (await fake_rows(s, activity="active"))["members"]] == ["A", "B"]
    assert [m["user"]["_id"] for m in (await fake_rows(s, activity="dormant"))["members"]] == ["C", "E"]
    assert [m["user"]["_id"] for m in (await fake_rows(s, bots="only"))["members"]] == ["B"]
    page = await fake_rows(s, sort="username", offset="1", count="2")
    assert ([m["user"]["_id"] for m in page["members"]], page["total"], page["offset"], page["count"]) == (
        ["E", "A"],
        5,
        1,
        2,
    )
    base = {"start": "2024-03-09T00:00:00.000Z", "end": "2024-03-10T23:59:59.999Z", "timezone": "UTC"}
    name, text = await csv_text(
        members.REPORT, s, members.REPORT.params.parse({**base, "sort": "username"}, UNIT_SETTINGS)
    )
    assert name == "members_2024-03-09_2024-03-10.csv"
    lines = text.split("\n")
    assert lines[1] == '"";"Cyd";"user";"true";"";"0";"0";"0";"0";"0";"0";"0";"2024-01-20T00:00:00.000Z";""'
    assert lines[2].startswith('"\'=eve";"Eve";"user";"true";')  # kept from running as a formula
    calls = list(s.counts.calls)
    await fake_rows(s, sort="username")
    assert s.counts.calls == calls  # the facts and that order, remembered
    s.people.change(FakeMember("F", "fay", "Fay"))  # type: ignore[attr-defined]
    assert (await fake_rows(s, sort="username"))["total"] == 6  # a new account: made again
