"""teams: every team by name then `_id` (code points; a team without a name first), each with its existing
channels and groups, from rooms held in memory and over a mongod against a recount; its CSV; extra parameters
ignored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engagement_svc.reports import teams
from engagement_svc.reports.queries import NoQuery
from engagement_svc.reports.sources import Sources
from engagement_svc.settings import Settings
from tests.support.data import ADMIN_HEADERS
from tests.support.fake_sources import FakeCounts, FakeRooms, csv_text
from tests.support.http import MESSAGES_SENT_PATH, ORIGIN_PATH, POSTING_USERS_PATH, TOP_FIVE_PATH, get_csv, until
from tests.support.oracle import expected_messages_sent, expected_origin, expected_top_five
from tests.support.oracle_people import csv_posting_users, expected_posting_users
from tests.support.rocketchat import room_doc
from tests.support.teams import seed_teams

SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")
TEAMS_PATH = "/api/v1/engagement-dashboard/teams"


async def test_teams_from_rooms_in_memory():
    rooms = FakeRooms([{"_id": "A", "t": "c", "teamId": "Zeta"}, {"_id": "B", "t": "p", "teamId": "Alpha"}])
    s = Sources(FakeCounts({}, rooms), rooms)
    q = teams.REPORT.params.parse({"start": "ignored"}, SETTINGS)
    assert q == NoQuery()
    assert await teams.REPORT.json(s, q) == (
        '{"teams":[{"_id":"Alpha","name":"alpha","type":0,"roomId":"Alpha-main","rooms":1},'
        '{"_id":"Zeta","name":"zeta","type":0,"roomId":"Zeta-main","rooms":1}],"success":true}'
    )
    name, text = await csv_text(teams.REPORT, s, q)
    assert (name, text) == ("teams.csv", '"Team";"Type";"Rooms"\n"alpha";"public";"1"\n"zeta";"public";"1"\n')


def test_a_team_json_and_its_type_name():
    assert teams.team_json({"_id": "T", "type": 1}, 0) == {"_id": "T", "type": 1, "rooms": 0}
    assert [teams.type_name({"type": t}) for t in (0, 1, 2, "0", None)] == ["public", "private", "", "", ""]


async def test_teams_equal_a_recount(client, db):
    made = datetime(2024, 1, 1, tzinfo=UTC)
    db.rocketchat_team.insert_many(
        [
            {"_id": "T2", "name": "eng", "type": 0, "roomId": "R1", "createdAt": made},
            {"_id": "T1", "name": "eng", "type": 1, "roomId": "R5", "createdAt": made},  # same name: by _id
            {"_id": "T3", "name": "Ops", "type": 0, "roomId": "R9", "createdAt": made},  # "O" < "e": first
            {"_id": "T4", "type": 0, "roomId": "R8", "createdAt": made},  # no name: first of all
        ]
    )
    db.rocketchat_room.insert_many(
        [
            room_doc("R1", "c", "eng", teamId="T2", teamMain=True),
            room_doc("R2", "p", "eng-private", teamId="T2"),
            room_doc("R3", "d", usernames=["a", "b"], teamId="T2"),  # not a channel or group: not counted
            room_doc("R4", "l", "visitor", teamId="T2"),
            room_doc("R5", "p", "eng2", teamId="T1", teamMain=True),
            room_doc("R6", "c", "lobby"),
        ]
    )
    response = await client.get(TEAMS_PATH, params={"timezone": "nowhere"}, headers=ADMIN_HEADERS)
    body = await response.json()
    assert response.status == 200, body
    recount = {
        team["_id"]: db.rocketchat_room.count_documents({"teamId": team["_id"], "t": {"$in": ["c", "p"]}})
        for team in db.rocketchat_team.find()
    }
    assert [t["_id"] for t in body["teams"]] == ["T4", "T3", "T1", "T2"]
    assert {t["_id"]: t["rooms"] for t in body["teams"]} == recount == {"T1": 1, "T2": 2, "T3": 0, "T4": 0}
    assert body["teams"][2] == {"_id": "T1", "name": "eng", "type": 1, "roomId": "R5", "rooms": 1}
    name, table = await get_csv(client, TEAMS_PATH, {})
    assert name == "teams.csv"
    assert table == [
        ["Team", "Type", "Rooms"],
        ["", "public", "0"],
        ["Ops", "public", "0"],
        ["eng", "private", "1"],
        ["eng", "public", "2"],
    ]


@pytest.fixture
def team_workspace(db, sync_client):
    """The teams' workspace, and a copy holding only team T1's rooms and their messages (with every user): the
    oracles recount the copy as they would the whole."""
    seed_teams(db)
    alone = sync_client[db.name + "_t1"]
    rooms = list(db.rocketchat_room.find({"teamId": "T1"}))
    alone.rocketchat_room.insert_many(rooms)
    alone.users.insert_many(list(db.users.find()))
    alone.rocketchat_message.insert_many(list(db.rocketchat_message.find({"rid": {"$in": [r["_id"] for r in rooms]}})))
    yield db, alone
    sync_client.drop_database(alone.name)


async def test_messages_origin_top_five_and_posters_of_a_team_equal_a_recount_of_its_rooms_alone(
    client, team_workspace
):
    _, alone = team_workspace
    oracles = {
        MESSAGES_SENT_PATH: expected_messages_sent,
        ORIGIN_PATH: expected_origin,
        TOP_FIVE_PATH: expected_top_five,
        POSTING_USERS_PATH: expected_posting_users,
    }
    ranges = [
        ("2024-03-28T00:00:00.000Z", "2024-04-02T00:00:00.000Z", "Europe/Berlin"),
        ("2024-04-05T00:00:00.000Z", "2024-04-09T00:00:00.000Z", "Australia/Lord_Howe"),
        ("2024-02-01T00:00:00.000Z", "2024-02-03T00:00:00.000Z", "Asia/Kathmandu"),
        ("2024-07-01T00:00:00.000Z", "2024-07-20T00:00:00.000Z", "Asia/Kolkata"),
        ("2024-10-31T00:00:00.000Z", "2024-11-05T00:00:00.000Z", "America/New_York"),
        ("2023-06-01T00:00:00.000Z", "2024-05-31T00:00:00.000Z", "UTC"),
    ]
    counted = 0
    for start, end, zone in ranges:
        s, e = (datetime.fromisoformat(x.replace("Z", "+00:00")) for x in (start, end))
        for bots in ("include", "exclude", "only"):
            for path, oracle in oracles.items():
                params = {"start": start, "end": end, "timezone": zone, "bots": bots, "teamId": "T1"}
                response = await client.get(path, params=params, headers=ADMIN_HEADERS)
                body = await response.json()
                assert response.status == 200, body
                assert body == oracle(alone, s, e, zone, bots), (path, params)
                counted += path == MESSAGES_SENT_PATH and body["period"]["count"]
    assert 0 < counted < sum(1 for _ in alone.rocketchat_message.find()) * 3  # the team's messages, not all
    _, table = await get_csv(client, POSTING_USERS_PATH, {"start": ranges[0][0], "end": ranges[0][1], "teamId": "T1"})
    assert table == csv_posting_users(expected_posting_users(alone, *_instants(ranges[0]), "UTC", "include"))
    for path in oracles:
        response = await client.get(
            path, params={"start": ranges[0][0], "end": ranges[0][1], "teamId": "X"}, headers=ADMIN_HEADERS
        )
        assert (response.status, (await response.json())["error"]) == (
            400,
            "Invalid parameter 'teamId': no team has this _id",
        )


def _instants(case):
    return tuple(datetime.fromisoformat(x.replace("Z", "+00:00")) for x in case[:2])


async def test_a_room_moved_into_a_team_counts_there_within_seconds(client, team_workspace):
    db, _ = team_workspace
    params = {"start": "2024-03-01T00:00:00.000Z", "end": "2024-03-31T00:00:00.000Z", "teamId": "T2"}

    async def total():
        body = await (await client.get(MESSAGES_SENT_PATH, params=params, headers=ADMIN_HEADERS)).json()
        return body["period"]["count"]

    before = await total()
    moved = db.rocketchat_message.count_documents(
        {
            "rid": "C0",
            "t": {"$exists": False},
            "ts": {"$gte": datetime(2024, 3, 1, tzinfo=UTC), "$lt": datetime(2024, 4, 1, tzinfo=UTC)},
        }
    )
    assert moved > 0
    db.rocketchat_room.update_one({"_id": "C0"}, {"$set": {"teamId": "T2"}})
    assert await until(lambda: _is(total(), before + moved), seconds=10)


async def _is(value, wanted):
    return await value == wanted
