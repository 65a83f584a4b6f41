"""teams: every team by name then `_id` (code points; a team without a name first), each with its existing
channels and groups, from rooms held in memory and over a mongod against a recount; its CSV; extra parameters
ignored."""

from __future__ import annotations

from datetime import UTC, datetime

from engagement_svc.reports import teams
from engagement_svc.reports.queries import NoQuery
from engagement_svc.reports.sources import Sources
from engagement_svc.settings import Settings
from tests.support.data import ADMIN_HEADERS
from tests.support.fake_sources import FakeCounts, FakeRooms, csv_text
from tests.support.http import get_csv
from tests.support.rocketchat import room_doc

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
