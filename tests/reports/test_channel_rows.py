"""A channel list's rows: their order (ties by room id either way, no last day below every day), kept compactly,
posters per room; and a list sorted by a count kept across new messages over a real mongod (only the rooms counted
since move): every row of every sort both ways equals the recount after each wave of messages, bots in and out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engagement_svc.counting.slots import span_of_seconds
from engagement_svc.reports.channel_rows import ClosedPosters, Row, Rows, ordered, rows
from engagement_svc.reports.sources import Sources
from tests.support.channel_lists import CHOICES, lacks, listed_rows, recounted_rows
from tests.support.fake_sources import FakeCounts, FakeRooms, seconds
from tests.support.http import until
from tests.support.rocketchat import message_doc
from tests.support.teams import seed_teams

NEVER_POSTED = Row("Z", 0, 0)  # last: NEVER


def test_ties_go_by_room_id_ascending_either_way_and_never_posted_is_below_every_day():
    found = [Row("b", 2, 1, 1, 10), Row("a", 2, 0, 2, 20), Row("c", 1, 3, 2, 20), NEVER_POSTED]
    assert [r.rid for r in ordered(found, "messages", True)] == ["a", "b", "c", "Z"]
    assert [r.rid for r in ordered(found, "messages", False)] == ["Z", "c", "a", "b"]
    assert [r.rid for r in ordered(found, "diffFromLastWeek", True)] == ["a", "b", "Z", "c"]
    assert [r.rid for r in ordered(found, "posters", False)] == ["Z", "b", "a", "c"]
    assert [r.rid for r in ordered(found, "lastPosted", True)] == ["a", "c", "b", "Z"]
    assert [r.rid for r in ordered(found, "lastPosted", False)] == ["Z", "b", "a", "c"]
    rooms = {"a": {"name": "zed"}, "b": {"fname": "Beta"}, "c": {}, "Z": {"name": "alpha"}}
    assert [r.rid for r in ordered(found, "name", False, rooms)] == ["c", "b", "Z", "a"]  # no name first; B < a


def test_rows_kept_compactly_read_back_whole_and_in_slices():
    found = [Row("a", 3, 1, 2, 86_400), Row("b", 0, 5), NEVER_POSTED]
    kept = Rows(found)
    assert len(kept) == 3 and list(kept) == found and kept[1:] == found[1:] and kept[-1] == NEVER_POSTED
    assert len(Rows([])) == 0 and Rows([])[:] == []


def test_rows_of_existing_rooms_only():
    kinds = {"a": "c", "b": "l", "c": "d"}
    found = rows({"a": 2, "b": 4}, {"c": 1, "gone": 5}, kinds.get)
    assert sorted(found) == [Row("a", 2, 0), Row("c", 0, 1)]  # livechat and a deleted room left out


# -- kept across new messages, over a mongod ------------------------------------------------------------------------
@pytest.fixture
def team_data(db):
    return seed_teams(db)


LIVE_SORTS = ("messages", "diffFromLastWeek", "posters", "lastPosted")  # the range before is in closed days


async def test_rows_kept_across_live_messages_equal_a_recount_in_every_sort_and_choice(client, team_data):
    """Lists sorted by a count are kept and moved as messages arrive (today: open days): rooms move up and down
    past ties, a silent room leaves the silent list, a room new to the range joins it, a bot posts, a newcomer
    posts, a room quiet today hears from its author and a new one; every row of every sort both ways (bots in;
    out and only for two) equals the recount after each wave."""
    now = datetime.now(UTC).replace(microsecond=0)
    person = [{"_id": f"Poster{i:011d}", "username": f"poster{i}"} for i in range(3)]
    seeded = [("C0", 1), ("C1", 1), ("C2", 1), ("C3", 1), ("TC1", 2), ("TC2", 1), ("D1", 1)]
    docs = [
        message_doc(f"lv{rid}{j}", rid, now - timedelta(days=j % 3, minutes=1), person[j % 3])
        for rid, n in seeded
        for j in range(n)
    ]
    docs += [message_doc(f"lb{rid}", rid, now - timedelta(days=9), person[0]) for rid in ("C1", "C4", "TP1")]
    docs.append(message_doc("closedC4", "C4", now - timedelta(days=2), person[1]))  # in range, closed: no news today
    team_data.rocketchat_message.insert_many(docs)
    params = {"start": (now - timedelta(days=6)).isoformat(), "end": now.isoformat(), "timezone": "UTC"}
    # Fewer lists than the answers remembered (64): each is kept from one round to the next, and moved.
    asked = [(c, s + sort, "include") for c in CHOICES for sort in LIVE_SORTS for s in ("", "-")]
    asked += [({}, sort, bots) for sort in ("-messages", "posters") for bots in ("exclude", "only")]

    async def all_equal():
        for choice, sort, bots in asked:
            rows, total = await listed_rows(client, {**params, **choice, "sort": sort, "bots": bots})
            expected = recounted_rows(team_data, {**params, **choice}, bots, choice, sort)
            if (rows, total) != (expected, len(expected)):
                return choice, sort, bots, rows, expected
        return None

    assert await all_equal() is None  # every list made (and kept)
    live = [("C3", person[1]), ("C3", person[2]), ("QUIET", person[0]), ("TQ1", person[1]), ("C0", person[0])]
    team_data.rocketchat_message.insert_many(
        [message_doc(f"live{i}", rid, now, who) for i, (rid, who) in enumerate(live)]
    )

    async def c3_moved():
        rows, _ = await listed_rows(client, {**params, "sort": "-messages"})
        return rows and rows[0]["room"]["_id"] == "C3" and rows[0]["messages"] == 3

    assert await until(c3_moved, seconds=10)
    assert await until(lambda: lacks(ids_of(client, {**params, "activity": "silent"}), "QUIET"), seconds=10)
    assert await all_equal() is None
    # Again, kept from the lists just compared: a bot's message (it counts only with bots in) and a new poster.
    team_data.rocketchat_message.insert_many(
        [
            message_doc("live-bot", "C2", now, person[0], bot={"i": "integration"}),
            message_doc("live-new", "TC2", now, {"_id": "NewPoster00000001", "username": "newcomer"}),
            message_doc("live-c4-again", "C4", now, person[1]),  # its closed part's author: no new poster
            message_doc("live-c4-new", "C4", now, person[2]),  # one more
        ]
    )

    async def all_counted():  # the bot's message in C2, and C4's last (the stream delivers them in order)
        bots, _ = await listed_rows(client, {**params, "sort": "-messages", "bots": "only"})
        rows, _ = await listed_rows(client, {**params, "sort": "-posters"})
        c4 = next((r["messages"], r["posters"]) for r in rows if r["room"]["_id"] == "C4")
        return [r["room"]["_id"] for r in bots] == ["C2"] and c4 == (3, 2)

    assert await until(all_counted, seconds=10)
    assert await all_equal() is None


async def ids_of(client, params):
    rows, _ = await listed_rows(client, params)
    return {r["room"]["_id"] for r in rows}


async def test_new_posters_look_up_only_rooms_with_posters_in_the_closed_part():
    """An author new to a room in the open days is new to the range unless the room's closed part has posters: a
    room without any there needs no look-up (most rooms of a 7-day list at 100,000 rooms); a room outside the rooms
    the closed part was counted for (a team's) is looked up all the same."""
    rooms = FakeRooms([{"_id": r, "t": "c", **({"teamId": "T"} if r == "T1" else {})} for r in ("A", "B", "T1")])
    closed_s = seconds("2024-03-10T12:00:00+00:00")
    posts = [(closed_s, "A\x1eann"), (closed_s, "T1\x1eann")]
    counts = FakeCounts({"posts": posts}, rooms)
    s = Sources(counts, rooms)
    closed = span_of_seconds(seconds("2024-03-10T00:00:00+00:00"), seconds("2024-03-12T00:00:00+00:00"))
    today = ["A\x1eann", "A\x1ebob", "B\x1ecyd"]

    every = ClosedPosters(closed, ("c", "p", "d"))
    every.closed_part({"A": 1, "T1": 1}, None)
    assert await every.new_posters(s, ["B\x1ecyd"]) == {"B": 1}
    assert counts.calls == []  # B had no poster before today: cyd is new without asking
    assert await every.new_posters(s, today) == {"A": 1, "B": 1}  # ann posted in A before; bob did not
    assert counts.calls == ["subjects"]

    counts.calls.clear()
    team = ClosedPosters(closed, ("c", "p", "d"))
    team.closed_part({"T1": 1}, frozenset({"T1"}))  # A is not the team's: not counted, so not known to be empty
    assert await team.new_posters(s, [*today, "T1\x1eann"]) == {"A": 1, "B": 1}
    assert counts.calls == ["subjects"]
