"""The real sources offer every call the protocols promise reports, with the same parameters: the engine (while it is
split into modules), the room-type map and the accounts. mypy checks the types where the app builds them
(resources.py)."""

from __future__ import annotations

import inspect

import pytest

from engagement_svc.counting.engine import Engine
from engagement_svc.reports.sources import Counts, People, Rooms
from engagement_svc.rocketchat.people import People as Directory
from engagement_svc.rocketchat.rooms import RoomTypes


def calls(protocol: type) -> list[str]:
    return [name for name, value in vars(protocol).items() if callable(value) and not name.startswith("_")]


@pytest.mark.parametrize(("protocol", "real"), [(Counts, Engine), (Rooms, RoomTypes), (People, Directory)])
def test_the_real_source_has_every_call_with_the_same_parameters(protocol, real):
    assert calls(protocol)
    for name in calls(protocol):
        promised, offered = getattr(protocol, name), getattr(real, name)
        assert inspect.iscoroutinefunction(promised) == inspect.iscoroutinefunction(offered), name
        want, got = inspect.signature(promised).parameters, inspect.signature(offered).parameters
        assert [(p.name, p.kind, p.default) for p in want.values()] == [
            (p.name, p.kind, p.default) for p in got.values()
        ], name


def test_reports_ask_the_engine_for_nothing_else():
    assert set(calls(Counts)) == {
        "sums",
        "sums_by_class",
        "sums_by_key",
        "subject_counts",
        "subjects",
        "distinct",
        "key_lists",
        "presence",
        "earliest",
        "open_edge",
        "changed_keys",
        "stamp",
        "follow",
        "remembered",
        "remember",
    }
    assert set(calls(Rooms)) == {"kind", "forget", "documents", "every", "team_exists", "teams", "version"}
    assert set(calls(People)) == {"everyone"}
