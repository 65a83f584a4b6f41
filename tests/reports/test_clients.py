"""users/clients over a real mongod: per day and client (web, desktop, mobile, other), the distinct users active
through a session of that client, and the range's, equal a brute-force recount of the raw sessions by the interval
rule, JSON and every CSV cell, in zones with DST changes and odd offsets, for every value of bots; every device.type
Rocket.Chat writes (browser, mobile, tablet, desktop-app, mobile-app), `other`, an empty type, no type, no device;
sessions across midnights, Rocket.Chat's 01:05 copies and 02:00 sums, guests and connections without a user left
out; sessions still open; a session from a new client seen live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engagement_svc.reports import clients
from engagement_svc.reports.sources import Sources
from engagement_svc.resources import ENGINE
from engagement_svc.settings import Settings
from tests.support.data import ADMIN_HEADERS
from tests.support.fake_sources import FakeCounts, FakeRooms, csv_text, seconds
from tests.support.http import CLIENTS_PATH, get_csv, until
from tests.support.oracle import Snapshot, js
from tests.support.oracle_people import CLIENTS, client_of, csv_clients, expected_clients
from tests.support.people import SERVER, seeded_workspace
from tests.support.rocketchat import EVERY_DEVICE, Login, session_documents, user_doc

BOTS_CHOICES = ("include", "exclude", "only")
CASES = [  # (start, end, zone): each zone's DST changes of 2024 in that zone, the odd offsets, no session, a year
    ("2024-03-01T00:00:00.000Z", "2024-03-14T12:00:00.000Z", "America/Havana"),  # 10 March: no midnight
    ("2024-03-05T00:00:00.000Z", "2024-03-14T00:00:00.000Z", "America/New_York"),  # 10 March
    ("2024-03-28T00:00:00.000Z", "2024-04-03T00:00:00.000Z", "Europe/Berlin"),  # 31 March: 23 hours
    ("2024-04-01T00:00:00.000Z", "2024-04-11T00:00:00.000Z", "Australia/Lord_Howe"),  # 7 April: 24.5 hours
    ("2024-10-01T00:00:00.000Z", "2024-10-07T23:00:00.000Z", "Australia/Lord_Howe"),  # 6 October: 23.5 hours
    ("2024-10-21T00:00:00.000Z", "2024-10-31T00:00:00.000Z", "Europe/Berlin"),  # 27 October: 25 hours
    ("2024-10-28T00:00:00.000Z", "2024-11-06T00:00:00.000Z", "America/New_York"),  # 3 November
    ("2024-10-30T00:00:00.000Z", "2024-11-05T00:00:00.000Z", "America/Havana"),  # 3 November: midnight twice
    ("2024-03-10T00:00:00.000Z", "2024-03-20T00:00:00.000Z", "Asia/Kolkata"),  # +5:30
    ("2024-03-15T00:00:00.000Z", "2024-03-25T00:00:00.000Z", "Asia/Kathmandu"),  # +5:45
    ("2024-06-01T00:00:00.000Z", "2024-06-20T00:00:00.000Z", "UTC"),  # no session at all: zeros
    ("2024-01-01T00:00:00.000Z", "2024-12-31T00:00:00.000Z", "Asia/Kathmandu"),  # the whole year
]


def parse(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


async def get(client, params):
    response = await client.get(CLIENTS_PATH, params=params, headers=ADMIN_HEADERS)
    return response.status, await response.json()


@pytest.fixture(scope="module")
def workspace(sync_client):
    """One seeded workspace for the whole module, served by `app` (tests/reports/conftest.py)."""
    yield from seeded_workspace(sync_client, "rc_clients_", seed=25)


# -- by hand ------------------------------------------------------------------------------------------------------
U1, U2, CAT = "UserOne0000000001", "UserTwo0000000001", "rocket.cat"
DEVICE = {d.get("type", "no type") if d else "none": d for d in EVERY_DEVICE}


def hand_made(db, now):
    db.users.insert_many(
        [
            user_doc(U1, "one", ["user"], []),
            user_doc(U2, "two", ["user"], []),
            user_doc(CAT, "rocket.cat", ["bot"], [], type="bot"),
        ]
    )

    def at(day, hour, minute=0):
        return datetime(2024, 5, day, hour, minute, tzinfo=UTC)

    logins = [
        Login(U1, "user", at(1, 10), at(1, 11), device=DEVICE["browser"]),  # web
        Login(U1, "user", at(1, 23, 30), at(2, 0, 30), device=DEVICE["mobile-app"]),  # mobile, across midnight
        Login(U2, "user", at(2, 8), at(2, 9), device=DEVICE["tablet"]),  # web (a browser on a tablet)
        # desktop, open at Berlin's 01:05 of 3 May (23:05 UTC): capped, and copied into 3 May, where it ends
        Login(U2, "user", at(2, 20), at(3, 1), True, device=DEVICE["desktop-app"]),
        Login(U2, "user", at(3, 9), at(3, 10), device=DEVICE["none"]),  # other: no device
        Login(U1, "user", at(3, 9), at(3, 10), device=DEVICE[""]),  # other: an empty type
        Login(CAT, "bot", at(3, 12), at(3, 13), device=DEVICE["other"]),  # other, a bot's
        Login("Guest000000000001", "anonymous", at(3, 12), at(3, 14), device=DEVICE["browser"]),  # a guest
        Login(None, "user", at(3, 12), at(3, 12, 1), device=DEVICE["browser"]),  # never logged in
        Login(U1, "user", at(4, 7), at(4, 8), device=DEVICE["mobile"]),  # web (a browser on a phone)
    ]
    docs = session_documents(logins, now, SERVER)
    db.rocketchat_sessions.insert_many(docs)
    return docs


def row(day, web=0, desktop=0, mobile=0, other=0):
    return {"day": f"2024-05-0{day}T00:00:00.000Z", "web": web, "desktop": desktop, "mobile": mobile, "other": other}


async def test_a_few_sessions_by_hand(client, db):
    docs = hand_made(db, datetime.now(UTC))
    assert len([d for d in docs if d["type"] == "computed-session" and d["sessionId"] == "s0000003"]) == 2  # a copy
    params = {"start": "2024-05-01T00:00:00.000Z", "end": "2024-05-04T23:59:59.999Z", "timezone": "UTC"}
    expected = {
        "include": {
            "days": [row(4, web=1), row(3, desktop=1, other=3), row(2, 1, 1, 1), row(1, web=1, mobile=1)],
            "period": {"web": 2, "desktop": 1, "mobile": 1, "other": 3},
        },
        "exclude": {
            "days": [row(4, web=1), row(3, desktop=1, other=2), row(2, 1, 1, 1), row(1, web=1, mobile=1)],
            "period": {"web": 2, "desktop": 1, "mobile": 1, "other": 2},
        },
        "only": {
            "days": [row(4), row(3, other=1), row(2), row(1)],
            "period": {"web": 0, "desktop": 0, "mobile": 0, "other": 1},
        },
    }
    for bots, counts in expected.items():
        body = {**counts, "success": True}
        asked = {**params, "bots": bots}
        assert expected_clients(db, parse(params["start"]), parse(params["end"]), "UTC", bots) == body, bots
        assert await get(client, asked) == (200, body), bots
        name, rows = await get_csv(client, CLIENTS_PATH, asked)
        assert rows == csv_clients(body) and name.endswith("_2024-05-01_2024-05-04.csv"), bots
    # in New York, 1 May's late mobile session is still 1 May and the desktop one ends on 2 May
    ny = {**params, "timezone": "America/New_York"}
    status, body = await get(client, ny)
    assert status == 200 and body == expected_clients(db, parse(ny["start"]), parse(ny["end"]), ny["timezone"])
    assert [(d["day"], d["mobile"], d["desktop"]) for d in body["days"][-3:]] == [
        ("2024-05-02T04:00:00.000Z", 0, 1),
        ("2024-05-01T04:00:00.000Z", 1, 0),
        ("2024-04-30T04:00:00.000Z", 0, 0),
    ]


def test_every_device_type_has_its_client():
    assert [client_of({"device": d} if d is not None else {}) for d in EVERY_DEVICE] == [
        "web",
        "web",
        "web",
        "desktop",
        "mobile",
        "other",
        "other",
        "other",
        "other",
    ]


# -- the workspace ------------------------------------------------------------------------------------------------
def test_the_workspace_holds_every_kind_of_session(workspace):
    kinds = {
        **{f"device {t!r}": {"device.type": t} for t in ("browser", "mobile", "tablet", "desktop-app", "mobile-app")},
        "device 'other'": {"device.type": "other"},
        "device ''": {"device.type": ""},
        "device without type": {"device": {"$exists": True}, "device.type": {"$exists": False}},
        "no device": {"type": {"$ne": "user_daily"}, "device": {"$exists": False}},
        "copies (01:05)": {"$expr": {"$gt": ["$createdAt", {"$add": ["$loginAt", 3_600_000]}]}},
        "computed-session": {"type": "computed-session"},
        "user_daily": {"type": "user_daily"},
        "still open": {"type": "session", "closedAt": None, "logoutAt": None, "lastActivityAt": None},
        "without user": {"type": {"$ne": "user_daily"}, "userId": None},
        "anonymous": {"mostImportantRole": "anonymous"},
        "bots": {"mostImportantRole": "bot"},
        "deleted users": {"userId": {"$regex": "^Gone|^aGone"}},
    }
    found = {kind: workspace.rocketchat_sessions.count_documents(q) for kind, q in kinds.items()}
    assert all(found.values()), found


async def test_every_zone_and_bots_equal_a_recount(app, workspace):
    """Every case for every value of bots, and the last seven days up to now (sessions still open): the JSON, and
    the CSV's every cell."""
    recount = Snapshot(workspace)
    now = datetime.now(UTC)
    recent = [(js(now - timedelta(days=6)), js(now), zone) for zone in ("Australia/Lord_Howe", "America/New_York")]
    seen = dict.fromkeys(CLIENTS, 0)
    for start, end, zone in [*CASES, *recent]:
        for bots in BOTS_CHOICES:
            params = {"start": start, "end": end, "timezone": zone, "bots": bots}
            expected = expected_clients(recount, parse(start), parse(end), zone, bots)
            assert await get(app, params) == (200, expected), params
            name, rows = await get_csv(app, CLIENTS_PATH, params)
            assert rows == csv_clients(expected), params
            first, last = (parse(s).astimezone(ZoneInfo(zone)).date() for s in (start, end))
            assert name.endswith(f"_{first}_{last}.csv"), name
            for c in CLIENTS:
                seen[c] += expected["period"][c]
    assert min(seen.values()) > 50, seen


async def test_bad_input_is_a_400_naming_the_field(app):
    good = {"start": "2024-03-01T00:00:00.000Z", "end": "2024-03-07T00:00:00.000Z"}
    for params, field in [
        ({"end": good["end"]}, "Missing key 'start'"),
        ({"start": good["start"]}, "Missing key 'end'"),
        ({**good, "bots": "all"}, "'bots'"),
        ({**good, "timezone": "Europe/Nowhere"}, "timezone"),
        ({**good, "end": "2024-02-01T00:00:00.000Z"}, "before start"),
    ]:
        status, body = await get(app, params)
        assert status == 400 and body["success"] is False and field in body["error"], (params, body)


async def test_a_session_from_a_new_client_is_seen_live(client, db):
    """A desktop-app login now, by a user so far seen only in a browser: today's desktop count and the period's
    grow by one within seconds."""
    now = datetime.now(UTC)
    hand_made(db, now)
    db.rocketchat_sessions.insert_many(
        session_documents([Login(U1, "user", now - timedelta(minutes=30), None, device=DEVICE["browser"])], now, SERVER)
    )
    params = {"start": js(now - timedelta(days=1)), "end": js(now), "timezone": "Asia/Kolkata"}

    async def agrees():
        expected = expected_clients(db, parse(params["start"]), parse(params["end"]), params["timezone"])
        return await get(client, params) == (200, expected)

    assert await agrees()
    assert await until(lambda: client.server.app[ENGINE].watchers["rocketchat_sessions"].healthy)
    _, before = await get(client, params)
    later = datetime.now(UTC)
    fresh = Login(U1, "user", later - timedelta(seconds=5), None, device=DEVICE["desktop-app"])
    db.rocketchat_sessions.insert_many(session_documents([fresh], later, SERVER, prefix="fresh"))
    assert await until(agrees, seconds=10)
    _, after = await get(client, params)
    assert after["days"][0]["desktop"] == before["days"][0]["desktop"] + 1
    assert after["period"]["desktop"] == before["period"]["desktop"] + 1


# -- the report on counts held in memory (no mongod) ------------------------------------------------------------------
FAKE_DAY = seconds("2024-03-10T12:00:00+00:00")
FAKE_EVENTS = [
    (FAKE_DAY, "ada\x1eweb"),
    (FAKE_DAY + 60, "ada\x1eweb"),
    (FAKE_DAY, "ada\x1emobile"),  # one user through two clients counts for both
    (FAKE_DAY, "bot\x1edesktop\x1fbot"),
    (FAKE_DAY - 86_400, "eve\x1eother"),
    (FAKE_DAY - 3 * 86_400, "fay\x1eweb"),  # before the range
]
UNIT_SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")


@pytest.mark.parametrize(
    "bots, last, first, period",
    [
        ("include", (1, 1, 1, 0), (0, 0, 0, 1), (1, 1, 1, 1)),
        ("exclude", (1, 0, 1, 0), (0, 0, 0, 1), (1, 0, 1, 1)),
        ("only", (0, 1, 0, 0), (0, 0, 0, 0), (0, 1, 0, 0)),
    ],
)
async def test_users_per_day_and_client_from_counts_in_memory(bots, last, first, period):
    s = Sources(FakeCounts({"client_sessions": list(FAKE_EVENTS)}), FakeRooms([]))
    query = {"start": "2024-03-09T00:00:00.000Z", "end": "2024-03-10T23:59:59.999Z", "timezone": "UTC", "bots": bots}
    q = clients.REPORT.params.parse(query, UNIT_SETTINGS)

    def named(counts):
        return ",".join(f'"{c}":{n}' for c, n in zip(("web", "desktop", "mobile", "other"), counts, strict=True))

    expected = (
        f'{{"days":[{{"day":"2024-03-10T00:00:00.000Z",{named(last)}}},'
        f'{{"day":"2024-03-09T00:00:00.000Z",{named(first)}}}],"period":{{{named(period)}}},"success":true}}'
    )
    assert await clients.REPORT.json(s, q) == expected
    name, text = await csv_text(clients.REPORT, s, q)
    assert name == "clients_2024-03-09_2024-03-10.csv"
    rows = [["2024-03-10T00:00:00.000Z", *last], ["2024-03-09T00:00:00.000Z", *first]]
    assert text == '"Date";"Web";"Desktop";"Mobile";"Other"\n' + "".join(
        ";".join(f'"{v}"' for v in row) + "\n" for row in rows
    )
    calls = list(s.counts.calls)
    assert await clients.REPORT.json(s, q) == expected and s.counts.calls == calls  # remembered
