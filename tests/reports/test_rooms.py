"""The rooms' documents read for an answer: a room found gone is forgotten at once and the answer said incomplete."""

from __future__ import annotations

from engagement_svc.reports.rooms import ROOM_TYPE_ORDER, existing_rooms
from tests.support.fake_sources import FakeRooms

DOCS = [{"_id": "A", "t": "c"}, {"_id": "B", "t": "p"}, {"_id": "C", "t": "d"}]


async def test_every_room_found():
    rooms = FakeRooms(DOCS)
    assert await existing_rooms(rooms, ["A", "C"]) == ({"A": DOCS[0], "C": DOCS[2]}, True)
    assert rooms.forgotten == []


async def test_a_room_gone_is_forgotten():
    rooms = FakeRooms(DOCS, deleted={"B"})
    assert rooms.kind("B") == "p"
    assert await existing_rooms(rooms, ["A", "B", "X"]) == ({"A": DOCS[0]}, False)
    assert rooms.forgotten == ["B", "X"] and rooms.kind("B") is None


def test_the_dashboards_room_types_in_their_tie_order():
    assert ROOM_TYPE_ORDER == ("c", "p", "d")
