"""channels/list over HTTP, every page, and its recount by the oracle, for each way rows are chosen (silent, every
room, a team's): shared by the tests of the list and of its rows kept live."""

from __future__ import annotations

from datetime import datetime

from tests.support.data import ADMIN_HEADERS
from tests.support.http import CHANNELS_LIST_PATH
from tests.support.oracle_rooms import expected_channel_rows

CHOICES = [{}, {"activity": "silent"}, {"hideRoomsWithNoActivity": "false"}, {"teamId": "T1"}]
CHOICES += [{"teamId": "T2", "activity": "silent"}, {"teamId": "T1", "hideRoomsWithNoActivity": "false"}]


async def listed_rows(client, params):
    rows, offset = [], 0
    while True:
        response = await client.get(
            CHANNELS_LIST_PATH, params={**params, "offset": str(offset), "count": "100"}, headers=ADMIN_HEADERS
        )
        body = await response.json()
        assert response.status == 200, body
        rows += body["channels"]
        if len(body["channels"]) < 100:
            return rows, body["total"]
        offset += 100


def recounted_rows(db, params, bots, choice, sort="-messages"):
    start, end = (datetime.fromisoformat(params[k].replace("Z", "+00:00")) for k in ("start", "end"))
    return expected_channel_rows(
        db,
        start,
        end,
        params["timezone"],
        bots,
        sort,
        activity=choice.get("activity", "all"),
        hide=choice.get("hideRoomsWithNoActivity", "true") == "true",
        team=choice.get("teamId"),
    )


async def lacks(found, rid):
    return rid not in await found
