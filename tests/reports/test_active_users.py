"""The users tab's session endpoints: every number (of the JSON, and every cell of the CSV, its dates and hours
included) equals a brute-force recount of the raw sessions by the spec's interval rule, in zones with DST changes
(23- and 25-hour days, Lord Howe's half hour) and odd offsets, for every value of bots; sessions crossing
midnight, Rocket.Chat's 01:05 copies, user_daily sums, anonymous users and connections without a user; open
sessions; a session closed while the service watches; the TTL's deletions."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engagement_svc.resources import ENGINE
from tests.support.data import ADMIN_HEADERS
from tests.support.http import ACTIVE_USERS_PATH, BY_HOUR_PATH, HOURLY_PATH, WEEKLY_PATH, get_csv, until
from tests.support.oracle import (
    Snapshot,
    csv_active_users,
    csv_by_hour,
    csv_hourly,
    csv_name,
    csv_weekly,
    expected_active_users,
    expected_by_hour,
    expected_hourly,
    expected_weekly,
    js,
)
from tests.support.rocketchat import Login, session_documents, user_doc, workday_logins

SERVER = ZoneInfo("Europe/Berlin")  # the zone of Rocket.Chat's own jobs (01:05 copies, 02:00 sums)
BOTS_CHOICES = ("include", "exclude", "only")
PATHS = {"active": ACTIVE_USERS_PATH, "hour": BY_HOUR_PATH, "hourly": HOURLY_PATH, "weekly": WEEKLY_PATH}


def parse(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


async def get(client, which, params):
    response = await client.get(PATHS[which], params=params, headers=ADMIN_HEADERS)
    return response.status, await response.json()


def people(n=40):
    """(id, role) of n users: people, an admin, bots by type, app and role (their ids are in `users` too)."""
    out = []
    for i in range(n):
        role = "admin" if i == 0 else "bot" if i % 13 == 5 else "user"
        out.append((f"Person{i:011d}", role))
    return out


def user_docs(ids):
    docs = []
    for i, (uid, _) in enumerate(ids):
        extra = {"type": "bot"} if i == 5 else {"type": "app"} if i == 18 else {}
        roles = ["user", "bot"] if i == 31 else ["user"]
        docs.append(user_doc(uid, f"person{i}", roles, [], **extra))
    return docs


@pytest.fixture
def sessions(db, users):
    """Logins around the DST changes of spring and autumn 2024 (Havana, New York, Berlin, Lord Howe) and in the
    last days up to now (some still open), written as Rocket.Chat writes them; the TTL not applied."""
    rng = random.Random(11)
    ids = people()
    db.users.insert_many(user_docs(ids))
    now = datetime.now(UTC)
    logins = []
    for first, last in [(date(2024, 3, 1), date(2024, 4, 12)), (date(2024, 9, 30), date(2024, 11, 6))]:
        logins += workday_logins(rng, ids, first, last, now, SERVER)
    logins += workday_logins(rng, ids, (now - timedelta(days=9)).date(), now.date(), now, SERVER)
    # the hours around the changes themselves, and sessions across a local and a UTC midnight
    for start, hours in [
        (datetime(2024, 3, 10, 4, 50, tzinfo=UTC), 2),  # Havana 23:50 -> 01:50 across its skipped midnight hour
        (datetime(2024, 3, 31, 0, 55, tzinfo=UTC), 0.2),  # Berlin's skipped 02:00-03:00
        (datetime(2024, 4, 6, 14, 40, tzinfo=UTC), 1),  # Lord Howe's repeated half hour (01:30-02:00)
        (datetime(2024, 10, 5, 15, 10, tzinfo=UTC), 0.5),  # Lord Howe's skipped half hour
        (datetime(2024, 3, 15, 23, 59, 59, tzinfo=UTC), 0.001),  # a few seconds across UTC midnight
        (datetime(2024, 10, 27, 0, 30, tzinfo=UTC), 0.25),  # Berlin's first 02:00-03:00 of the two
        (datetime(2024, 10, 27, 1, 20, tzinfo=UTC), 0.2),  # and its second
        (datetime(2024, 11, 3, 5, 40, tzinfo=UTC), 0.5),  # New York's repeated 01:00-02:00 (the second one)
    ]:
        logins.append(Login(ids[7][0], "user", start, start + timedelta(hours=hours)))
    logins.append(Login(ids[8][0], "user", now - timedelta(minutes=40), None))  # open now, whatever the hour
    docs = session_documents(logins, now, SERVER)
    db.rocketchat_sessions.insert_many(docs)
    kinds = {
        "copies (01:05)": {"$expr": {"$gt": ["$createdAt", {"$add": ["$loginAt", 3_600_000]}]}},
        "computed-session": {"type": "computed-session"},
        "user_daily": {"type": "user_daily"},
        "still open": {"type": "session", "closedAt": None, "logoutAt": None, "lastActivityAt": None},
        "logouts": {"logoutAt": {"$type": "date"}},
        "closed": {"closedAt": {"$type": "date"}},
        "without user": {"type": {"$ne": "user_daily"}, "userId": None},
        "anonymous": {"mostImportantRole": "anonymous"},
        "bots": {"userId": {"$in": [ids[5][0], ids[18][0], ids[31][0]]}},
        "mobile": {"device.type": "mobile-app"},
    }
    found = {kind: db.rocketchat_sessions.count_documents(q) for kind, q in kinds.items()}
    assert all(found.values()), found
    return db


def cases():
    """(start, end, zone): each zone's DST changes in that zone, the odd offsets, no session at all, a year."""
    return [
        ("2024-03-01T00:00:00.000Z", "2024-03-14T12:00:00.000Z", "America/Havana"),  # its 23-hour day (10 March)
        ("2024-03-05T00:00:00.000Z", "2024-03-14T00:00:00.000Z", "America/New_York"),  # 10 March
        ("2024-03-28T00:00:00.000Z", "2024-04-03T00:00:00.000Z", "Europe/Berlin"),  # 31 March: 23 hours
        ("2024-04-01T00:00:00.000Z", "2024-04-11T00:00:00.000Z", "Australia/Lord_Howe"),  # 7 April: 24.5 hours
        ("2024-10-01T00:00:00.000Z", "2024-10-07T23:00:00.000Z", "Australia/Lord_Howe"),  # 6 October: 23.5 hours
        ("2024-10-21T00:00:00.000Z", "2024-10-31T00:00:00.000Z", "Europe/Berlin"),  # 27 October: 25 hours
        ("2024-10-28T00:00:00.000Z", "2024-11-06T00:00:00.000Z", "America/New_York"),  # 3 November
        ("2024-03-10T00:00:00.000Z", "2024-03-20T00:00:00.000Z", "Asia/Kolkata"),  # +5:30
        ("2024-10-25T00:00:00.000Z", "2024-11-04T00:00:00.000Z", "Asia/Kathmandu"),  # +5:45
        ("2024-02-01T00:00:00.000Z", "2024-02-20T00:00:00.000Z", "UTC"),  # before any session: zeros
        ("2024-01-01T00:00:00.000Z", "2024-12-31T00:00:00.000Z", "America/Havana"),  # the whole year
    ]


def recent():
    """The last seven days up to now (sessions still open among them), in two zones."""
    now = datetime.now(UTC)
    return [(js(now - timedelta(days=6)), js(now), zone) for zone in ("Asia/Kathmandu", "Europe/Berlin")]


async def test_active_users_equal_a_recount(client, sessions):
    """Every case for every value of bots: the JSON, and the CSV's every cell (DAU, WAU, MAU and the day's local
    midnight as an instant)."""
    recount = Snapshot(sessions)
    total = 0
    for start, end, zone in [*cases(), *recent()]:
        for bots in BOTS_CHOICES:
            params = {"start": start, "end": end, "timezone": zone, "bots": bots}
            expected = expected_active_users(recount, parse(start), parse(end), zone, bots)
            assert await get(client, "active", params) == (200, expected), params
            name, rows = await get_csv(client, ACTIVE_USERS_PATH, params)
            assert rows == csv_active_users(expected, zone), params
            assert name == csv_name("active-users", parse(start), parse(end), zone)
            total += sum(row["users"] for row in expected["month"])
    assert total > 1000


async def test_a_long_answer_is_streamed_and_equals_the_recount(client, sessions, monkeypatch):
    """An answer listing more ids than STREAMED_IDS is written a day at a time (chunked, never held whole):
    the same bytes as the whole answer, equal to the recount."""
    from engagement_svc.reports import active_users as answers

    start, end, zone = cases()[-1]
    params = {"start": start, "end": end, "timezone": zone}
    monkeypatch.setattr(answers, "STREAMED_IDS", 10)
    streamed = await client.get(PATHS["active"], params=params, headers=ADMIN_HEADERS)
    assert streamed.status == 200 and streamed.headers.get("Transfer-Encoding") == "chunked"
    assert streamed.headers["Content-Type"] == "application/json"
    assert "Content-Length" not in streamed.headers
    body = await streamed.read()
    monkeypatch.undo()  # and once more, whole (a streamed answer is not remembered)
    whole = await client.get(PATHS["active"], params=params, headers=ADMIN_HEADERS)
    assert "Content-Length" in whole.headers and await whole.read() == body
    assert await streamed.json() == expected_active_users(sessions, parse(start), parse(end), params["timezone"])


async def test_users_by_hour_equal_a_recount(client, sessions):
    """Every day x hour cell for every value of bots, in the JSON and in the CSV (each hour's first instant: on a
    DST day, a skipped hour where the clock jumps past it, a repeated one where it first begins)."""
    recount = Snapshot(sessions)
    for start, end, zone in [*cases()[:-1], *recent()]:
        for bots in BOTS_CHOICES:
            params = {"start": start, "end": end, "timezone": zone, "bots": bots}
            expected = expected_by_hour(recount, parse(start), parse(end), zone, bots)
            status, body = await get(client, "hour", params)
            assert status == 200, body
            assert len(body["week"]) == 24 * len({(r["year"], r["month"], r["day"]) for r in body["week"]})
            assert body == expected, params
            name, rows = await get_csv(client, BY_HOUR_PATH, params)
            assert rows == csv_by_hour(expected, zone), params
            assert name == csv_name("users-by-time-of-the-day", parse(start), parse(end), zone)


async def test_busier_hours_and_days_equal_a_recount(client, sessions):
    """The day holding `start` (two-hour rows), and the seven days ending with it, for every value of bots, as JSON
    and as CSV (hours; each day's local midnight as an instant)."""
    recount = Snapshot(sessions)
    now = js(datetime.now(UTC))
    instants = [
        ("2024-03-10T12:00:00.000Z", "America/Havana"),
        ("2024-03-10T12:00:00.000Z", "America/New_York"),
        ("2024-03-31T08:00:00.000Z", "Europe/Berlin"),
        ("2024-10-27T08:00:00.000Z", "Europe/Berlin"),
        ("2024-11-03T12:00:00.000Z", "America/New_York"),
        ("2024-04-06T20:00:00.000Z", "Australia/Lord_Howe"),  # 7 April there
        ("2024-10-06T03:00:00.000Z", "Australia/Lord_Howe"),
        ("2024-03-16T00:00:00.000Z", "Asia/Kolkata"),
        ("2024-10-28T00:00:00.000Z", "Asia/Kathmandu"),
        (now, "UTC"),
        (now, "Europe/Berlin"),
    ]
    for start, zone in instants:
        day = parse(start).astimezone(ZoneInfo(zone)).date()
        for bots in BOTS_CHOICES:
            params = {"start": start, "timezone": zone, "bots": bots, "end": "ignored"}
            expected = expected_hourly(recount, parse(start), zone, bots)
            status, body = await get(client, "hourly", params)
            assert status == 200, body
            assert [r["hour"] for r in body["hours"]] == list(range(22, -1, -2))
            assert body == expected, params
            name, rows = await get_csv(client, HOURLY_PATH, params)
            assert (name, rows) == (f"busier-hours_{day}.csv", csv_hourly(expected)), params
            expected = expected_weekly(recount, parse(start), zone, bots)
            assert await get(client, "weekly", params) == (200, expected), params
            name, rows = await get_csv(client, WEEKLY_PATH, params)
            assert (name, rows) == (f"busier-days_{day}.csv", csv_weekly(expected, zone)), params


async def test_a_session_closed_while_watched_and_new_logins_are_seen(client, sessions):
    db = sessions
    engine = client.server.app[ENGINE]
    now = datetime.now(UTC)
    params = {"start": js(now - timedelta(days=2)), "end": js(now), "timezone": "Asia/Kathmandu"}
    assert (await get(client, "active", params))[0] == 200
    assert await until(lambda: engine.watchers["rocketchat_sessions"].healthy)

    async def agrees():
        hour = {**params, "start": js(now)}
        expected = (
            expected_active_users(db, parse(params["start"]), parse(params["end"]), params["timezone"]),
            expected_by_hour(db, parse(params["start"]), parse(params["end"]), params["timezone"]),
            expected_hourly(db, parse(hour["start"]), params["timezone"]),
        )
        found = (
            await get(client, "active", params),
            await get(client, "hour", params),
            await get(client, "hourly", hour),
        )
        return found == tuple((200, e) for e in expected)

    assert await agrees()
    # a login three hours ago still open, a newcomer's login now, then the first one closes
    fresh = [Login("Fresh000000000001", "user", now - timedelta(hours=3), None)]
    fresh.append(Login("Fresh000000000002", "user", now - timedelta(minutes=1), None, device=3))
    docs = session_documents(fresh, now, SERVER, prefix="fresh")
    db.rocketchat_sessions.insert_many(docs)
    assert await until(agrees, seconds=5)
    closed = datetime.now(UTC) - timedelta(hours=2)
    db.rocketchat_sessions.update_one({"_id": docs[0]["_id"]}, {"$set": {"closedAt": closed, "lastActivityAt": closed}})
    assert await until(agrees, seconds=5)


async def test_days_counted_survive_the_ttl(client, sessions, make_client):
    """Rocket.Chat's TTL deletes sessions 45 days after they were summed: what the service counted stays, in this
    instance, in a new one (from the state database), and when a late session makes it recount such a day."""
    db = sessions
    engine = client.server.app[ENGINE]
    params = {"start": "2024-03-01T00:00:00.000Z", "end": "2024-04-11T00:00:00.000Z", "timezone": "America/Havana"}
    before = [await get(client, which, params) for which in ("active", "hour")]
    assert before[0] == (200, expected_active_users(db, parse(params["start"]), parse(params["end"]), "America/Havana"))
    june = {"start": "2024-06-01T00:00:00.000Z", "end": "2024-06-30T00:00:00.000Z"}  # no session: kept as zeros
    assert (await get(client, "active", june))[0] == 200
    assert await until(lambda: engine.watchers["rocketchat_sessions"].healthy)
    deleted = db.rocketchat_sessions.delete_many({"loginAt": {"$lt": datetime(2024, 5, 1, tzinfo=UTC)}}).deleted_count
    assert deleted > 1000
    await engine.corrections.sweep()
    # A session of a kept June day, written after the deletions: the stream delivers it after them, so once its day
    # has been counted again, whatever the deletions made due has been done too.
    recounts = engine.stats["recounts"]
    marker = Login(
        "Marker00000000001", "user", datetime(2024, 6, 12, 9, tzinfo=UTC), datetime(2024, 6, 12, 10, tzinfo=UTC)
    )
    db.rocketchat_sessions.insert_many(session_documents([marker], datetime.now(UTC), SERVER, prefix="marker"))
    assert await until(lambda: engine.stats["recounts"] > recounts, seconds=10)
    assert [await get(client, which, params) for which in ("active", "hour")] == before
    assert expected_active_users(db, parse(params["start"]), parse(params["end"]), "America/Havana") != before[0][1]
    fresh = await make_client()
    assert [await get(fresh, which, params) for which in ("active", "hour")] == before
    # a session of 5 March 2024 written late: that day is recounted from what is left, and keeps what it had
    late = Login(
        "Latecomer00000001", "user", datetime(2024, 3, 5, 15, tzinfo=UTC), datetime(2024, 3, 5, 16, tzinfo=UTC)
    )
    db.rocketchat_sessions.insert_many(session_documents([late], datetime.now(UTC), SERVER, prefix="late"))
    day = next(r for r in before[0][1]["month"] if (r["year"], r["month"], r["day"]) == (2024, 3, 5))
    assert day["users"] > 0

    async def recounted():
        _, body = await get(fresh, "active", params)
        row = next(r for r in body["month"] if (r["year"], r["month"], r["day"]) == (2024, 3, 5))
        return row["usersList"] == sorted([*day["usersList"], "Latecomer00000001"])

    assert await until(recounted, seconds=10)
    assert fresh.server.app[ENGINE].stats["recounts"] >= 1


async def test_bad_input_is_a_400_naming_the_field(client, sessions):
    good = {"start": "2024-03-01T00:00:00.000Z", "end": "2024-03-07T00:00:00.000Z"}
    for which in ("active", "hour"):
        for params, field in [
            ({"end": good["end"]}, "'start'"),
            ({"start": good["start"]}, "'end'"),
            ({**good, "start": "yesterday"}, "start"),
            ({**good, "end": "2024-02-30T00:00:00.000Z"}, "end"),
            ({**good, "timezone": "Mars/Olympus"}, "timezone"),
            ({**good, "bots": "some"}, "bots"),
            ({**good, "end": "2024-02-01T00:00:00.000Z"}, "before start"),
            ({"start": "2020-01-01T00:00:00.000Z", "end": "2024-01-01T00:00:00.000Z"}, "days"),
        ]:
            status, body = await get(client, which, params)
            assert status == 400 and field in body["error"] and body["success"] is False, (which, params, body)
    for which in ("hourly", "weekly"):
        for params, field in [
            ({}, "'start'"),
            ({"start": "2024-13-01T00:00:00.000Z"}, "start"),
            ({"start": good["start"], "timezone": "posix/UTC"}, "timezone"),
            ({"start": good["start"], "bots": "INCLUDE"}, "bots"),
        ]:
            status, body = await get(client, which, params)
            assert status == 400 and field in body["error"], (which, params, body)


async def test_more_open_sessions_than_one_cursor_batch(client, db):
    """A snapshot read whose answer spans several batches (here 250 open sessions; the first batch holds 101)
    under the request's timeout: fetched whole, counted exactly."""
    now = datetime.now(UTC)
    logins = [Login(f"Open{i:013d}", "user", now - timedelta(minutes=30 + i % 60), None) for i in range(250)]
    db.rocketchat_sessions.insert_many(session_documents(logins, now, SERVER))
    params = {"start": js(now - timedelta(days=1)), "end": js(now)}
    status, body = await get(client, "active", params)
    assert status == 200, body
    assert body == expected_active_users(db, parse(params["start"]), parse(params["end"]), "UTC")
    assert body["month"][0]["users"] == 250


async def test_zones_off_the_quarter_hour_answer_json_equal_to_a_recount(client, db):
    """Local mean time (Monrovia -0:44:30 and Kiritimati -10:40 in 1970, Amsterdam +0:19:32 in 1920) puts a day's
    edges off the 15-minute slots: those spans are counted directly, and their users listed as JSON like any
    other day's (they came back as a set, which the JSON encoder refused: a 500)."""
    rng = random.Random(5)
    ids = [(f"Lmt{i:014d}", "user") for i in range(12)]
    now = datetime.now(UTC)
    logins = []
    for first in (datetime(1970, 1, 1, tzinfo=UTC), datetime(1920, 3, 1, tzinfo=UTC)):
        for i, (uid, _) in enumerate(ids):
            start = first + timedelta(hours=rng.uniform(-12, 60))
            logins.append(Login(uid, "user", start, start + timedelta(minutes=5 + 40 * i)))
    db.rocketchat_sessions.insert_many(session_documents(logins, now, SERVER))
    cases = [
        ("1970-01-01T00:00:00.000Z", "1970-01-03T00:00:00.000Z", "Africa/Monrovia"),
        ("1970-01-01T00:00:00.000Z", "1970-01-03T00:00:00.000Z", "Pacific/Kiritimati"),
        ("1920-03-01T00:00:00.000Z", "1920-03-04T00:00:00.000Z", "Europe/Amsterdam"),
    ]
    listed = 0
    for start, end, zone in cases:
        params = {"start": start, "end": end, "timezone": zone}
        status, body = await get(client, "active", params)
        assert status == 200, body
        assert body == expected_active_users(db, parse(start), parse(end), zone), zone
        listed += sum(len(row["usersList"]) for row in body["month"])
    assert listed > 10
