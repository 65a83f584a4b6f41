"""teams: every team of the workspace, by name then `_id`, with its number of channels and groups (what the team
selector of the page lists, and what `teamId` accepts)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engagement_svc.reports.csv import Lines, lines_of
from engagement_svc.reports.queries import NOTHING, NoQuery
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.sources import Sources

TEAM_TYPES = {0: "public", 1: "private"}


def type_name(team: Mapping[str, Any]) -> str:
    """public or private; empty for a type Rocket.Chat does not write."""
    kind = team.get("type")
    return TEAM_TYPES.get(kind, "") if isinstance(kind, int) else ""


def team_json(team: Mapping[str, Any], rooms: int) -> dict[str, Any]:
    """`_id`, `name`, `type` (0 public, 1 private) and `roomId` (its main room) as stored (absent when not), and
    `rooms`."""
    out: dict[str, Any] = {"_id": team["_id"]}
    for field in ("name", "type", "roomId"):
        if field in team:
            out[field] = team[field]
    out["rooms"] = rooms
    return out


def _order(team: Mapping[str, Any]) -> tuple[int, str, str]:
    """By name (a team without one first), then `_id`, both by code point."""
    name = team.get("name")
    return (1, name, str(team["_id"])) if isinstance(name, str) else (0, "", str(team["_id"]))


async def _teams(sources: Sources) -> list[tuple[Mapping[str, Any], int]]:
    return sorted(await sources.rooms.teams(), key=lambda found: _order(found[0]))


async def json_answer(sources: Sources, q: NoQuery) -> str:
    teams = [team_json(team, rooms) for team, rooms in await _teams(sources)]
    return json.dumps({"teams": teams, "success": True}, separators=(",", ":"))


async def csv_lines(sources: Sources, q: NoQuery) -> Lines:
    """`Team;Type;Rooms`: the name, public or private, the rooms."""
    rows = [(team.get("name") or "", type_name(team), rooms) for team, rooms in await _teams(sources)]
    return lines_of(rows, text_columns=(0,))


REPORT = Report(
    path=f"{DASHBOARD}/teams",
    summary="every team, by name, with its number of channels and groups (what teamId accepts)",
    params=NOTHING,
    json=json_answer,
    csv=csv_lines,
    csv_name="teams",
    csv_header=("Team", "Type", "Rooms"),
)
