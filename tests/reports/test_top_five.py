"""messages/top-five-popular-channels from counts and rooms held in memory: the five of type c, p or d with the most
messages, ties by id; names as Rocket.Chat shows them; a room deleted meanwhile replaced; the CSV's rows."""

from __future__ import annotations

from engagement_svc.reports import top_five
from engagement_svc.reports.sources import Sources
from engagement_svc.settings import Settings
from tests.support.fake_sources import FakeCounts, FakeRooms, csv_text, seconds

SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")
ROOMS = [
    {"_id": "R1", "t": "c", "name": "general", "fname": "General Chat"},
    {"_id": "R2", "t": "p", "name": "=cmd"},
    {"_id": "R3", "t": "d", "usernames": ["ann", "bob"]},
    {"_id": "R4", "t": "c", "name": "four", "usernames": ["x"]},
    {"_id": "R5", "t": "c", "name": "five"},
    {"_id": "R6", "t": "c", "fname": "six"},
    {"_id": "R7", "t": "l", "name": "livechat"},
]
AT = seconds("2024-03-10T12:00:00+00:00")
COUNTS = {"R7": 10, "R1": 5, "R2": 4, "R3": 4, "R4": 2, "R5": 1, "R5\x1fbot": 1, "R6": 1}
QUERY = {"start": "2024-03-10T00:00:00.000Z", "end": "2024-03-10T23:59:59.999Z", "timezone": "UTC"}


def sources(deleted=()) -> Sources:
    rooms = FakeRooms(ROOMS, deleted)
    return Sources(FakeCounts({"messages": [(AT, key) for key, n in COUNTS.items() for _ in range(n)]}, rooms), rooms)


def ask(bots: str = "include"):
    return top_five.REPORT.params.parse({**QUERY, "bots": bots}, SETTINGS)


ROW = {
    "R1": '{"_id":"R1","t":"c","name":"General Chat","usernames":[],"messages":5}',
    "R2": '{"_id":"R2","t":"p","name":"=cmd","usernames":[],"messages":4}',
    "R3": '{"_id":"R3","t":"d","usernames":["ann","bob"],"messages":4}',
    "R4": '{"_id":"R4","t":"c","name":"four","usernames":[],"messages":2}',
}


async def test_the_five_with_the_most_messages_ties_by_id():
    body = await top_five.REPORT.json(sources(), ask())
    five = '{"_id":"R5","t":"c","name":"five","usernames":[],"messages":2}'
    assert body == '{"channels":[' + ",".join([*ROW.values(), five]) + '],"success":true}'
    excluded = await top_five.REPORT.json(sources(), ask("exclude"))
    five = '{"_id":"R5","t":"c","name":"five","usernames":[],"messages":1}'  # and before R6 (1), by id
    assert excluded == '{"channels":[' + ",".join([*ROW.values(), five]) + '],"success":true}'


async def test_only_bots():
    body = await top_five.REPORT.json(sources(), ask("only"))
    assert body == '{"channels":[{"_id":"R5","t":"c","name":"five","usernames":[],"messages":1}],"success":true}'


async def test_a_room_deleted_since_counting_is_forgotten_and_the_next_takes_its_place():
    s = sources(deleted={"R2"})
    body = await top_five.REPORT.json(s, ask())
    rest = [ROW["R1"], ROW["R3"], ROW["R4"], '{"_id":"R5","t":"c","name":"five","usernames":[],"messages":2}']
    six = '{"_id":"R6","t":"c","name":"six","usernames":[],"messages":1}'
    assert body == '{"channels":[' + ",".join([*rest, six]) + '],"success":true}'
    assert s.rooms.forgotten == ["R2"]


async def test_csv_rows_name_direct_rooms_by_their_users_and_keep_formulas_as_text():
    filename, text = await csv_text(top_five.REPORT, sources(), ask())
    assert filename == "messages-top-five_2024-03-10_2024-03-10.csv"
    assert text == (
        '"Room Type";"Name";"Messages"\n"c";"General Chat";"5"\n"p";"\'=cmd";"4"\n"d";"ann, bob";"4"\n'
        '"c";"four";"2"\n"c";"five";"2"\n'
    )


def test_the_five_are_chosen_from_the_counts_alone():
    """Rooms of type c, p or d with messages, most first, ties by id; a room of another type, an unknown one or one
    with none never."""
    kinds = {"a": "c", "b": "p", "c": "d", "d": "c", "e": "c", "f": "c", "g": "c", "l": "l"}
    per_room = {"l": 99, "x": 50, "f": 0, "g": 3, "e": 3, "d": 3, "c": 5, "b": 7, "a": 3}
    assert top_five.top_five(per_room, kinds.get) == [("b", 7), ("c", 5), ("a", 3), ("d", 3), ("e", 3)]
    assert top_five.top_five({"f": 0, "a": 2, "l": 9}, kinds.get) == [("a", 2)]
