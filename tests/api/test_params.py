"""400s with Rocket.Chat's texts, the date forms end to end, the range checks it lacks, and the format chosen."""

from __future__ import annotations

import pytest

from engagement_svc.api.params import wants_csv
from tests.support.data import ADMIN_HEADERS
from tests.support.http import CHANNELS_LIST_PATH, HOURLY_PATH, get_messages_sent

START, END = "2023-05-21T00:00:00.000Z", "2023-05-22T10:00:00.000Z"


def failed(field):
    return {"success": False, "error": f"Match error: Failed Match.Where validation in field {field}"}


def missing(key):
    return {"success": False, "error": f"Match error: Missing key '{key}'"}


@pytest.mark.parametrize(
    "params, body",
    [
        ({}, missing("start")),
        ({"end": END}, missing("start")),
        ({"start": START}, missing("end")),
        ({"timezone": "UTC"}, missing("start")),
        # Match.ObjectIncluding checks the keys present first: a bad one is named before a missing one
        ({"start": "bad"}, failed("start")),
        ({"end": "bad"}, failed("end")),
        ({"end": "bad", "timezone": "Mars/Olympus"}, failed("end")),
        ({"format": "xml"}, missing("start")),  # an extension's parameter is checked after Rocket.Chat's
        ({"bots": "all"}, missing("start")),
        ({"start": START, "timezone": "Mars/Olympus"}, missing("end")),
        ({"start": "bad", "end": END}, failed("start")),
        ({"start": START, "end": "bad"}, failed("end")),
        ({"start": "bad", "end": "bad"}, failed("start")),
        ({"start": "", "end": END}, failed("start")),
        ({"start": START, "end": END, "timezone": "Mars/Olympus"}, failed("timezone")),
        ({"start": START, "end": END, "timezone": ""}, failed("timezone")),
        ({"start": START, "end": END, "timezone": "../../etc/passwd"}, failed("timezone")),
        ({"start": START, "end": END, "timezone": "/usr/share/zoneinfo/UTC"}, failed("timezone")),
    ],
)
async def test_400_texts(client, params, body):
    assert await get_messages_sent(client, params) == (400, body)


async def test_repeated_key_is_invalid(client):
    response = await client.get(
        f"/api/v1/engagement-dashboard/messages/messages-sent?start={START}&start={START}&end={END}",
        headers={"X-User-Id": "AdminUserId000001", "X-Auth-Token": "admin-token-raw-value"},
    )
    assert response.status == 400
    assert await response.json() == failed("start")


async def test_extra_keys_are_ignored(client):
    status, body = await get_messages_sent(client, {"start": START, "end": END, "foo": "bar", "count": "5"})
    assert status == 200 and len(body["days"]) == 2


@pytest.mark.parametrize("text", ["2023-05-21T02:00:00+02:00", "2023-05-20T19:00:00.000-05:00", START])
async def test_offset_forms_work_end_to_end(client, text):
    status, body = await get_messages_sent(client, {"start": text, "end": END})
    assert status == 200 and body["days"][-1]["day"] == "2023-05-21T00:00:00.000Z"


@pytest.mark.parametrize("text", ["2023-05-21", "2023-02-29T00:00:00.000Z", "2023-05-21T00:00:00.000+0000"])
async def test_refused_forms_end_to_end(client, text):
    assert await get_messages_sent(client, {"start": START, "end": text}) == (400, failed("end"))


async def test_end_before_start_is_400_naming_it(client):
    status, body = await get_messages_sent(client, {"start": END, "end": START})
    assert status == 400 and body["success"] is False
    assert "end" in body["error"] and "before start" in body["error"]


async def test_end_equal_start_is_one_day(client):
    status, body = await get_messages_sent(client, {"start": START, "end": START})
    assert status == 200 and len(body["days"]) == 1


async def test_range_longer_than_maximum_is_400(client):
    # 2022-01-01 .. 2024-01-02 is 732 days: allowed; one more day is not.
    status, body = await get_messages_sent(
        client, {"start": "2022-01-01T00:00:00.000Z", "end": "2024-01-02T23:59:59.999Z"}
    )
    assert status == 200 and len(body["days"]) == 732
    status, body = await get_messages_sent(
        client, {"start": "2022-01-01T00:00:00.000Z", "end": "2024-01-03T00:00:00.000Z"}
    )
    assert status == 400
    assert body == {
        "success": False,
        "error": "The range from start to end covers 733 days; at most 732 days are allowed",
    }


async def test_maximum_is_configurable(make_client, users):
    client = await make_client(max_range_days=7)
    assert (await get_messages_sent(client, {"start": "2023-05-01T00:00:00Z", "end": "2023-05-07T23:00:00Z"}))[0] == 200
    status, body = await get_messages_sent(client, {"start": "2023-05-01T00:00:00Z", "end": "2023-05-08T00:00:00Z"})
    assert status == 400 and "8 days" in body["error"] and "7" in body["error"]


async def test_range_counted_in_local_days_of_the_zone(make_client, users):
    # 23:30Z to 00:30Z is two UTC days but one day in Asia/Kolkata (+05:30): 05:00 and 06:00 on the same day.
    client = await make_client(max_range_days=1)
    params = {"start": "2023-05-20T23:30:00Z", "end": "2023-05-21T00:30:00Z"}
    assert (await get_messages_sent(client, params))[0] == 400
    status, body = await get_messages_sent(client, params | {"timezone": "Asia/Kolkata"})
    assert status == 200 and body["days"] == [{"day": "2023-05-20T18:30:00.000Z", "messages": 0}]


async def test_present_keys_are_checked_in_the_querys_order(client):
    """As Match.ObjectIncluding walks the query object's own keys: the first bad key of the query is named."""
    for query, field in (
        ("end=bad&start=bad", "end"),
        ("start=bad&end=bad", "start"),
        (f"end=bad&start={START}", "end"),
    ):
        response = await client.get(
            f"/api/v1/engagement-dashboard/messages/messages-sent?{query}",
            headers={"X-User-Id": "AdminUserId000001", "X-Auth-Token": "admin-token-raw-value"},
        )
        assert (response.status, await response.json()) == (400, failed(field)), query


@pytest.mark.parametrize(
    "params, text",
    [
        (
            {"start": "0001-01-01T00:00:00.000Z", "end": "0001-01-05T00:00:00.000Z"},
            "start must be at least 31 days after 0001-01-01 in the requested time zone: the 30 days before the "
            "range are read too",
        ),
        (
            {"start": "0001-03-01T00:00:00.000Z", "end": "0001-05-01T00:00:00.000Z"},
            "start must be at least 63 days after 0001-01-01 in the requested time zone: the 62 days before the "
            "range are read too",
        ),
        (
            {"start": "9999-12-30T00:00:00.000Z", "end": "9999-12-31T23:59:59.999Z"},
            "end must be before 9999-12-30 in the requested time zone: the day after it is read too",
        ),
        (
            {"start": "9999-12-31T23:00:00.000Z", "end": "9999-12-31T23:30:00.000Z", "timezone": "Pacific/Kiritimati"},
            "start and end must lie between the years 0001 and 9999 in the requested time zone",
        ),
    ],
)
async def test_dates_at_the_edge_of_the_calendar_are_400_naming_the_edge(client, params, text):
    assert await get_messages_sent(client, params) == (400, {"success": False, "error": text})


async def test_far_but_valid_dates_work(client):
    status, body = await get_messages_sent(
        client, {"start": "1900-01-01T00:00:00.000Z", "end": "1900-01-02T00:00:00.000Z"}
    )
    assert status == 200 and body["days"][0] == {"day": "1900-01-02T00:00:00.000Z", "messages": 0}
    status, body = await get_messages_sent(
        client, {"start": "9990-01-01T00:00:00.000Z", "end": "9990-01-02T00:00:00.000Z"}
    )
    assert status == 200 and body["period"] == {"count": 0, "variation": 0}


async def test_unknown_path_and_method_are_json(client):
    response = await client.get("/api/v1/nope")
    assert response.status == 404 and response.content_type == "application/json"
    assert (await response.json())["success"] is False
    response = await client.post("/api/v1/engagement-dashboard/messages/messages-sent")
    assert response.status == 405 and response.content_type == "application/json"
    assert response.headers["Allow"]
    assert (await response.json())["success"] is False


@pytest.mark.parametrize(
    "line",
    [
        "GET /api/v1/engagement-dashboard/messages/messages-sent?start=" + "9" * 20_000 + " HTTP/1.1",
        "GET /healthz HTTP/1.1\r\nX-Auth-Token: " + "a" * 20_000,
        "GET /healthz HTTP/1.1\r\n" + "".join(f"X-Filler-{i}: x\r\n" for i in range(300)).rstrip(),
    ],
)
async def test_oversized_requests_get_a_4xx(client, line):
    import asyncio

    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write((line + "\r\nHost: x\r\nConnection: close\r\n\r\n").encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    status = int(status_line.split()[1])
    assert 400 <= status < 500, status_line


async def test_years_before_1000_keep_four_digits(client):
    """JavaScript writes the year 10 as 0010; strftime's %Y on glibc wrote "10" (found by the schema fuzzer)."""
    status, body = await get_messages_sent(
        client, {"start": "0010-01-09T00:07:26+00:00", "end": "0010-01-10T00:00:00Z"}
    )
    assert status == 200
    assert [d["day"] for d in body["days"]] == ["0010-01-10T00:00:00.000Z", "0010-01-09T00:00:00.000Z"]


def invalid(text):
    return {"success": False, "error": text}


SORTS = (
    "must be one of messages, lastWeekMessages, diffFromLastWeek, name, ts, _updatedAt, posters, lastPosted, members, "
    "optionally after '-'"
)


@pytest.mark.parametrize(
    "extra, body",
    [
        ({"sort": ""}, invalid(f"Invalid parameter 'sort': {SORTS}")),  # empty, like every other empty parameter
        ({"sort": "-"}, invalid(f"Invalid parameter 'sort': {SORTS}")),
        ({"offset": "9" * 20}, invalid("Invalid parameter 'offset': must be at most 999999999")),
        ({"offset": "0" * 5000 + "7"}, None),  # leading zeros are still the number 7
        ({"offset": "1" * 5000}, invalid("Invalid parameter 'offset': must be at most 999999999")),
        ({"offset": "-1"}, invalid("Invalid parameter 'offset': must be a whole number, 0 or more")),
        ({"offset": ""}, invalid("Invalid parameter 'offset': must be a whole number, 0 or more")),
        ({"count": "101"}, invalid("Invalid parameter 'count': must be at most 100")),
        ({"format": "xml"}, invalid("Invalid parameter 'format': must be json or csv")),
        ({"format": ""}, invalid("Invalid parameter 'format': must be json or csv")),
    ],
)
async def test_list_parameters_give_one_clear_400_each(client, extra, body):
    response = await client.get(CHANNELS_LIST_PATH, params={"start": START, "end": END, **extra}, headers=ADMIN_HEADERS)
    if body is None:
        assert response.status == 200 and (await response.json())["offset"] == 7
    else:
        assert (response.status, await response.json()) == (400, body)


async def test_a_repeated_format_is_named_as_every_repeated_key(client):
    response = await client.get(
        f"{CHANNELS_LIST_PATH}?start={START}&end={END}&format=csv&format=csv", headers=ADMIN_HEADERS
    )
    assert (response.status, await response.json()) == (400, failed("format"))


@pytest.mark.parametrize(
    "start, text",
    [
        (
            "9999-12-30T12:00:00.000Z",
            "start must be before 9999-12-30 in the requested time zone: the day after it is read too",
        ),
        (
            "0001-01-20T12:00:00.000Z",
            "start must be at least 40 days after 0001-01-01 in the requested time zone: the weeks before it are "
            "read too",
        ),
    ],
)
async def test_a_busier_day_at_the_calendars_edge_names_that_edge(client, start, text):
    response = await client.get(HOURLY_PATH, params={"start": start}, headers=ADMIN_HEADERS)
    assert (response.status, await response.json()) == (400, invalid(text))


@pytest.mark.parametrize(
    "accept, csv",
    [
        ("", False),
        ("text/csv", True),
        ("text/csv;q=0.1, application/json", False),  # the weights decide, not the order
        ("application/json;q=0.5, text/csv", True),
        ("text/csv;q=0", False),
        ("*/*", False),  # a tie: JSON
        ("text/csv, */*;q=0.1", True),
        ("text/*;q=0.9, application/*;q=0.8", True),
        ("text/csv;q=0.4, */*;q=0.5", False),
        ("TEXT/CSV ; Q=0.9, application/json;q=0.8", True),
        ("text/csv;q=2", True),  # a malformed weight counts as 1
        ("text/html, image/png", False),
    ],
)
def test_accept_weights_choose_the_format(accept, csv):
    assert wants_csv({}, accept) is csv


async def test_accept_weights_choose_the_answers_type(client):
    for accept, media in (("text/csv;q=0.1, application/json", "application/json"), ("text/csv", "text/csv")):
        headers = {**ADMIN_HEADERS, "Accept": accept}
        response = await client.get(CHANNELS_LIST_PATH, params={"start": START, "end": END}, headers=headers)
        assert response.status == 200 and response.content_type == media, accept
