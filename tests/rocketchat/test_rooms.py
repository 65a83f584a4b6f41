"""Rooms read from Rocket.Chat: a team's rooms (and that it exists) are remembered while the rooms' version holds,
read again once the rooms' change stream reports a change."""

from __future__ import annotations

from pymongo import AsyncMongoClient, monitoring

from engagement_svc.rocketchat.rooms import RoomTypes
from tests.support.rocketchat import room_doc


class Finds(monitoring.CommandListener):
    """The commands the client sends to the server, by name."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class Followed:
    """The rooms' change stream as RoomTypes sees it: followed (healthy); what it reports is told by the test."""

    healthy = True

    def listen(self, listener: object, fields: object, projected: object = ()) -> None:
        pass


async def test_a_teams_rooms_are_read_once_while_the_rooms_stay_the_same(mongo_url, db):
    db.rocketchat_team.insert_one({"_id": "T1", "name": "t1", "type": 0})
    db.rocketchat_room.insert_many(
        [room_doc("A", "c", "a", teamId="T1"), room_doc("B", "p", "b", teamId="T1"), room_doc("C", "c", "c")]
    )
    finds = Finds()
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, event_listeners=[finds])
    try:
        rooms = RoomTypes(client[db.name], Followed())  # type: ignore[arg-type]
        assert await rooms.team_exists("T1") and await rooms.every(("c", "p"), "T1") == {"A": "c", "B": "p"}
        read = len(finds.names)
        assert read > 0
        assert await rooms.team_exists("T1") and await rooms.every(("c", "p"), "T1") == {"A": "c", "B": "p"}
        assert len(finds.names) == read  # remembered: no command sent
        assert not await rooms.team_exists("NOPE")  # a team not found is asked again (it may be made)
        assert not await rooms.team_exists("NOPE") and len(finds.names) == read + 2
        db.rocketchat_room.update_one({"_id": "C"}, {"$set": {"teamId": "T1"}})
        await rooms.changed("C")  # the rooms' change stream reports it
        assert await rooms.every(("c", "p"), "T1") == {"A": "c", "B": "p", "C": "c"}
        assert len(finds.names) > read + 2
    finally:
        await client.close()
