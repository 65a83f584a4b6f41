"""users/posting-users over a real mongod: every number of the JSON (each day's distinct authors, the 7- and 30-day
windows reaching before the range, the period and its variation) and every cell of the CSV equals a brute-force
recount of the messages, in zones with DST changes (Havana's at midnight, Lord Howe's half hour) and +5:30/+5:45
offsets, for every value of bots (an integration posting as a person is a bot message); authors deleted since
still count; messages not sent (system, hidden, livechat, voip, a deleted room) never do; a new author is seen
live."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engagement_svc.reports import posting_users
from engagement_svc.reports.sources import Sources
from engagement_svc.resources import ENGINE
from engagement_svc.settings import Settings
from tests.support.data import ADMIN_HEADERS
from tests.support.fake_sources import FakeCounts, FakeRooms, csv_text, seconds
from tests.support.http import POSTING_USERS_PATH, get_csv, until
from tests.support.oracle import Snapshot, js
from tests.support.oracle_people import authors_by_day, csv_posting_users, expected_posting_users
from tests.support.people import seeded_workspace
from tests.support.rocketchat import message_doc, room_doc, user_doc

BOTS_CHOICES = ("include", "exclude", "only")
CASES = [  # (start, end, zone): each zone's DST changes of 2024 in that zone, the odd offsets, no message, a year
    ("2024-03-25T00:00:00.000Z", "2024-04-03T00:00:00.000Z", "Europe/Berlin"),  # 31 March: 23 hours
    ("2024-10-21T00:00:00.000Z", "2024-10-31T00:00:00.000Z", "Europe/Berlin"),  # 27 October: 25 hours
    ("2024-03-05T00:00:00.000Z", "2024-03-14T00:00:00.000Z", "America/New_York"),  # 10 March
    ("2024-10-28T00:00:00.000Z", "2024-11-06T00:00:00.000Z", "America/New_York"),  # 3 November
    ("2024-03-01T00:00:00.000Z", "2024-03-14T12:00:00.000Z", "America/Havana"),  # 10 March: no midnight
    ("2024-10-30T00:00:00.000Z", "2024-11-05T00:00:00.000Z", "America/Havana"),  # 3 November: midnight twice
    ("2024-04-01T00:00:00.000Z", "2024-04-11T00:00:00.000Z", "Australia/Lord_Howe"),  # 7 April: 24.5 hours
    ("2024-10-01T00:00:00.000Z", "2024-10-07T23:00:00.000Z", "Australia/Lord_Howe"),  # 6 October: 23.5 hours
    ("2024-03-10T00:00:00.000Z", "2024-03-20T00:00:00.000Z", "Asia/Kolkata"),  # +5:30
    ("2024-02-25T00:00:00.000Z", "2024-03-05T00:00:00.000Z", "Asia/Kathmandu"),  # +5:45
    ("2024-07-04T05:00:00.000Z", "2024-07-04T20:00:00.000Z", "UTC"),  # one day: the previous range is one day
    ("2023-11-01T00:00:00.000Z", "2023-11-20T00:00:00.000Z", "Asia/Kolkata"),  # the first days of the data
    ("2023-05-01T00:00:00.000Z", "2023-05-31T00:00:00.000Z", "UTC"),  # before any message: zeros
    ("2024-01-01T00:00:00.000Z", "2024-12-31T00:00:00.000Z", "America/Havana"),  # the whole year
]


def parse(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


async def get(client, params):
    response = await client.get(POSTING_USERS_PATH, params=params, headers=ADMIN_HEADERS)
    return response.status, await response.json()


@pytest.fixture(scope="module")
def workspace(sync_client):
    """One seeded workspace for the whole module, served by `app` (tests/reports/conftest.py)."""
    yield from seeded_workspace(sync_client, "rc_posting_", seed=24)


# -- by hand ------------------------------------------------------------------------------------------------------
ANN = {"_id": "AnnUser0000000001", "username": "ann", "name": "Ann"}
BEN = {"_id": "BenUser0000000001", "username": "ben", "name": "Ben"}
GONE = {"_id": "GoneUser000000001", "username": "gone", "name": "Gone"}  # no user document
CAT = {"_id": "rocket.cat", "username": "rocket.cat", "name": "Rocket.Cat"}


def hand_made(db):
    db.users.insert_many(
        [
            user_doc(ANN["_id"], "ann", ["user"], []),
            user_doc(BEN["_id"], "ben", ["user"], []),
            user_doc(CAT["_id"], "rocket.cat", ["bot"], [], type="bot"),
        ]
    )
    db.rocketchat_room.insert_many(
        [room_doc("C1", "c", "general"), room_doc("D1", "d", usernames=["ann", "ben"]), room_doc("L1", "l", "v")]
    )

    def at(day, hour, minute=0):
        return datetime(2024, 5, day, hour, minute, tzinfo=UTC)

    db.rocketchat_message.insert_many(
        [
            message_doc("before", "C1", datetime(2024, 4, 28, 12, tzinfo=UTC), ANN),  # the previous range
            message_doc("a1", "C1", at(1, 10), ANN),
            message_doc("a2", "D1", at(1, 12), ANN),  # a second message the same day: still one author
            message_doc("cat", "C1", at(2, 9), CAT),  # a bot user
            message_doc("hook", "C1", at(2, 10), ANN, bot={"i": "integration"}),  # a person's, by an integration
            message_doc("b1", "D1", at(3, 9), BEN),
            message_doc("g1", "C1", at(3, 23, 30), GONE),  # 4 May in Berlin
            message_doc("join", "C1", at(2, 11), BEN, t="uj"),  # not sent: a system message
            message_doc("copy", "C1", at(2, 11), BEN, _hidden=True, parent="b1"),  # an edit's hidden copy
            message_doc("live", "L1", at(2, 11), BEN),  # livechat
            message_doc("lost", "NoSuchRoom", at(2, 11), BEN),  # a deleted room
        ]
    )


def days(*rows):
    """Rows (day of May 2024, users, wau, mau), newest first, at UTC midnights."""
    return [{"day": f"2024-05-0{d}T00:00:00.000Z", "users": u, "wau": w, "mau": m} for d, u, w, m in rows]


async def test_a_few_messages_by_hand(client, db):
    """Known messages on known days give known counts: same author twice in a day is one; a bot user's message and
    an integration's are bot messages; a deleted author counts; system, hidden, livechat and lost messages never;
    the windows reach the message before the range; the oracle agrees."""
    hand_made(db)
    params = {"start": "2024-05-01T00:00:00.000Z", "end": "2024-05-04T12:00:00.000Z", "timezone": "UTC"}
    expected = {
        "include": {
            "days": days((4, 0, 4, 4), (3, 2, 4, 4), (2, 2, 2, 2), (1, 1, 1, 1)),
            "period": {"count": 4, "variation": 3},  # ann, ben, gone, rocket.cat; before: ann
        },
        "exclude": {
            "days": days((4, 0, 3, 3), (3, 2, 3, 3), (2, 0, 1, 1), (1, 1, 1, 1)),
            "period": {"count": 3, "variation": 2},
        },
        "only": {
            "days": days((4, 0, 2, 2), (3, 0, 2, 2), (2, 2, 2, 2), (1, 0, 0, 0)),
            "period": {"count": 2, "variation": 2},
        },
    }
    for bots, counts in expected.items():
        body = {**counts, "success": True}
        asked = {**params, "bots": bots}
        assert expected_posting_users(db, parse(params["start"]), parse(params["end"]), "UTC", bots) == body, bots
        assert await get(client, asked) == (200, body), bots
        name, rows = await get_csv(client, POSTING_USERS_PATH, asked)
        assert rows == csv_posting_users(body) and name.endswith("_2024-05-01_2024-05-04.csv"), bots
    # in Berlin the deleted author's message is on 4 May, and 1 May begins at 22:00 UTC on 30 April
    berlin = {**params, "timezone": "Europe/Berlin"}
    status, body = await get(client, berlin)
    assert status == 200 and body == expected_posting_users(
        db, parse(berlin["start"]), parse(berlin["end"]), berlin["timezone"]
    )
    assert [(d["day"], d["users"]) for d in body["days"]] == [
        ("2024-05-03T22:00:00.000Z", 1),
        ("2024-05-02T22:00:00.000Z", 1),
        ("2024-05-01T22:00:00.000Z", 2),
        ("2024-04-30T22:00:00.000Z", 1),
    ]


async def test_an_empty_database_is_zeros(client):
    params = {"start": "2024-01-01T00:00:00.000Z", "end": "2024-01-03T00:00:00.000Z"}
    assert await get(client, params) == (
        200,
        {"days": days_zero(), "period": {"count": 0, "variation": 0}, "success": True},
    )


def days_zero():
    return [{"day": f"2024-01-0{d}T00:00:00.000Z", "users": 0, "wau": 0, "mau": 0} for d in (3, 2, 1)]


# -- the workspace ------------------------------------------------------------------------------------------------
class Recount:
    """The authors per local day, found once per zone and value of bots."""

    def __init__(self, db):
        self.db, self.by_day = Snapshot(db), {}

    def body(self, start: str, end: str, zone: str, bots: str) -> dict:
        if (zone, bots) not in self.by_day:
            self.by_day[zone, bots] = authors_by_day(self.db, ZoneInfo(zone), bots)
        return expected_posting_users(self.db, parse(start), parse(end), zone, bots, self.by_day[zone, bots])


async def test_every_zone_and_bots_equal_a_recount(app, workspace):
    """Every case for every value of bots: the JSON, and the CSV's every cell (each day's local midnight as an
    instant, and its three counts)."""
    recount = Recount(workspace)
    now = datetime.now(UTC)
    recent = [(js(now - timedelta(days=6)), js(now), zone) for zone in ("Asia/Kathmandu", "America/Havana")]
    reaching, totals = 0, dict.fromkeys(BOTS_CHOICES, 0)
    for start, end, zone in [*CASES, *recent]:
        for bots in BOTS_CHOICES:
            params = {"start": start, "end": end, "timezone": zone, "bots": bots}
            expected = recount.body(start, end, zone, bots)
            assert await get(app, params) == (200, expected), params
            name, rows = await get_csv(app, POSTING_USERS_PATH, params)
            assert rows == csv_posting_users(expected), params
            first, last = (parse(s).astimezone(ZoneInfo(zone)).date() for s in (start, end))
            assert name.endswith(f"_{first}_{last}.csv"), name
            totals[bots] += expected["period"]["count"]
            reaching += expected["days"][-1]["mau"] > expected["days"][-1]["users"]
    assert min(totals.values()) > 20 and reaching > 10, (totals, reaching)  # the data really tests it all


async def test_deleted_authors_count_and_only_sent_messages_do(app, workspace):
    """The workspace's deleted authors post in early 2024: removing them from the recount changes the answer."""
    params = {"start": "2024-01-08T00:00:00.000Z", "end": "2024-03-31T00:00:00.000Z", "timezone": "Asia/Kathmandu"}
    status, body = await get(app, params)
    assert status == 200 and body == Recount(workspace).body(*params.values(), "include")
    zone = ZoneInfo(params["timezone"])
    first, last = date(2024, 1, 8), date(2024, 3, 31)
    gone = set()
    for day, authors in authors_by_day(Snapshot(workspace), zone).items():
        if first <= day <= last:
            gone |= {a for a in authors if workspace.users.count_documents({"_id": a}) == 0}
    assert gone and body["period"]["count"] >= len(gone)


async def test_bad_input_is_a_400_naming_the_field(app):
    good = {"start": "2024-03-01T00:00:00.000Z", "end": "2024-03-07T00:00:00.000Z"}
    for params, field in [
        ({"end": good["end"]}, "Missing key 'start'"),
        ({"start": good["start"]}, "Missing key 'end'"),
        ({**good, "bots": "maybe"}, "'bots'"),
        ({**good, "bots": ""}, "'bots'"),
        ({**good, "timezone": "Mars/Olympus"}, "timezone"),
        ({**good, "end": "2024-02-01T00:00:00.000Z"}, "before start"),
    ]:
        status, body = await get(app, params)
        assert status == 400 and body["success"] is False and field in body["error"], (params, body)


async def test_a_new_author_is_seen_live(client, db):
    """A message by someone who had not posted shows in today's count, its week and month, and the period, within
    seconds of being written."""
    hand_made(db)
    now = datetime.now(UTC)
    db.rocketchat_message.insert_one(message_doc("today", "C1", now - timedelta(minutes=5), ANN))
    params = {"start": js(now - timedelta(days=2)), "end": js(now), "timezone": "Pacific/Chatham"}

    async def agrees():
        expected = expected_posting_users(db, parse(params["start"]), parse(params["end"]), params["timezone"])
        return await get(client, params) == (200, expected)

    assert await agrees()
    assert await until(lambda: client.server.app[ENGINE].watchers["rocketchat_message"].healthy)
    _, before = await get(client, params)
    db.rocketchat_message.insert_one(message_doc("newcomer", "D1", datetime.now(UTC), BEN))
    assert await until(agrees, seconds=10)
    _, after = await get(client, params)
    assert after["days"][0]["users"] == before["days"][0]["users"] + 1
    assert after["period"]["count"] == before["period"]["count"] + 1


async def test_the_first_answer_is_kept_for_the_next(client, db):
    """The first request to reach today reads the posts' open days before anything follows them: they are followed
    first, so that its answer is kept and the same request again is answered from memory (a year of a big server's
    people posting takes seconds to make). It also counts its closed days for the first time, which changes no
    answer read before."""
    hand_made(db)
    now = datetime.now(UTC)
    db.rocketchat_message.insert_one(message_doc("today", "C1", now - timedelta(minutes=5), ANN))
    engine = client.server.app[ENGINE]
    assert await until(lambda: engine.watchers["rocketchat_message"].healthy)
    params = {"start": js(now - timedelta(days=6)), "end": js(now), "timezone": "UTC"}
    first = await get(client, params)
    assert first[0] == 200 and first[1]["days"][0]["users"] >= 1  # today first
    hits = engine.answers.cache.stats()["hits"]
    assert await get(client, params) == first
    assert engine.answers.cache.stats()["hits"] == hits + 1


# -- the report on counts held in memory (no mongod) ------------------------------------------------------------------
FAKE_DAY = seconds("2024-03-10T12:00:00+00:00")
FAKE_EVENTS = [
    (FAKE_DAY, "C1\x1eada"),
    (FAKE_DAY, "D1\x1eada"),  # ada twice a day: one poster
    (FAKE_DAY, "C1\x1ebob\x1fbot"),  # a bot message
    (FAKE_DAY, "L1\x1ecyd"),  # livechat: never a message sent
    (FAKE_DAY - 20 * 86_400, "C1\x1edee"),  # within the first day's 30 days
    (FAKE_DAY - 3 * 86_400, "C1\x1eeve"),  # in the range before
]
FAKE_QUERY = {"start": "2024-03-09T00:00:00.000Z", "end": "2024-03-10T23:59:59.999Z", "timezone": "UTC"}
UNIT_SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")


def fake_sources() -> Sources:
    rooms = FakeRooms([{"_id": "C1", "t": "c"}, {"_id": "D1", "t": "d"}, {"_id": "L1", "t": "l"}])
    return Sources(FakeCounts({"posts": list(FAKE_EVENTS)}, rooms), rooms)


@pytest.mark.parametrize(
    "bots, last, first, period, variation",
    [
        ("include", (2, 3, 4), (0, 1, 2), 2, 1),
        ("exclude", (1, 2, 3), (0, 1, 2), 1, 0),
        ("only", (1, 1, 1), (0, 0, 0), 1, 1),
    ],
)
async def test_posters_their_windows_and_the_period_from_counts_in_memory(bots, last, first, period, variation):
    q = posting_users.REPORT.params.parse({**FAKE_QUERY, "bots": bots}, UNIT_SETTINGS)
    s = fake_sources()

    def day(iso, counts):
        return f'{{"day":"{iso}","users":{counts[0]},"wau":{counts[1]},"mau":{counts[2]}}}'

    expected = (
        f'{{"days":[{day("2024-03-10T00:00:00.000Z", last)},{day("2024-03-09T00:00:00.000Z", first)}],'
        f'"period":{{"count":{period},"variation":{variation}}},"success":true}}'
    )
    assert await posting_users.REPORT.json(s, q) == expected
    name, text = await csv_text(posting_users.REPORT, s, q)
    assert name == "posting-users_2024-03-09_2024-03-10.csv"
    assert text == (
        '"Date";"Posting";"Posting WAU";"Posting MAU"\n'
        f'"2024-03-10T00:00:00.000Z";"{last[0]}";"{last[1]}";"{last[2]}"\n'
        f'"2024-03-09T00:00:00.000Z";"{first[0]}";"{first[1]}";"{first[2]}"\n'
    )
    calls = list(s.counts.calls)
    assert await posting_users.REPORT.json(s, q) == expected and s.counts.calls == calls  # remembered
    s.counts.events["posts"] += [(FAKE_DAY, "C1\x1efay"), (FAKE_DAY, "C1\x1egil\x1fbot")]
    s.counts.change()
    assert await posting_users.REPORT.json(s, q) != expected  # counted again once the counts changed
