"""What an attacker or a clumsy client sends: a bounded, clean answer in the contract's shape, never a 500.

These are the cases of the hostile-input probe (issue 8), kept as regression tests; `make fuzz` replays them with
the OpenAPI fuzzing at a larger number of examples.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engagement_svc.resources import ENGINE, USER_LOOKUPS
from tests.support.data import ADMIN_HEADERS, ADMIN_ID, ADMIN_TOKEN
from tests.support.http import MESSAGES_SENT_PATH, get_messages_sent, parse_response, raw_exchange, until
from tests.support.live import LiveServer
from tests.support.mongo import with_database
from tests.support.rocketchat import login_token, user_doc

GOOD = "start=2024-01-01T00:00:00.000Z&end=2024-01-07T00:00:00.000Z"
# Rocket.Chat 7.x/8.x's 401: both shapes at once (rocketchat-wire.md)
UNAUTHORIZED = {
    "success": False,
    "error": "You must be logged in to do this.",
    "status": "error",
    "message": "You must be logged in to do this.",
}


def raw_get(target: str, headers: list[bytes]) -> bytes:
    return b"\r\n".join([f"GET {target} HTTP/1.1".encode(), b"Host: localhost", *headers, b"Connection: close"]) + (
        b"\r\n\r\n"
    )


def metric(text: str, name: str, **labels) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


# -- credentials --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "user_id, token",
    [
        (b"caf\xe9", b"x"),  # Latin-1, not UTF-8
        (ADMIN_ID.encode(), b"\xff"),
        (ADMIN_ID.encode(), ADMIN_TOKEN.encode() + b"\xc3"),  # a truncated UTF-8 sequence
        (b"\xed\xa0\x80", ADMIN_TOKEN.encode()),  # an encoded surrogate
        (b"A" * 5000, ADMIN_TOKEN.encode()),
    ],
)
async def test_undecodable_or_absurd_credentials_get_401_json(client, caplog, user_id, token):
    caplog.set_level(logging.INFO)
    raw = await raw_exchange(
        client.server.host,
        client.server.port,
        raw_get(f"{MESSAGES_SENT_PATH}?{GOOD}", [b"X-User-Id: " + user_id, b"X-Auth-Token: " + token]),
    )
    status, headers, body = parse_response(raw)
    assert (status, json.loads(body)) == (401, UNAUTHORIZED)
    assert headers["content-type"].startswith("application/json") and headers["cache-control"] == "no-store"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_repeated_credential_header_is_401_whichever_value_comes_first(client):
    for headers in (
        [b"X-User-Id: " + ADMIN_ID.encode(), b"X-User-Id: someone-else", b"X-Auth-Token: " + ADMIN_TOKEN.encode()],
        [b"X-User-Id: " + ADMIN_ID.encode(), b"X-Auth-Token: " + ADMIN_TOKEN.encode(), b"X-Auth-Token: x"],
    ):
        raw = await raw_exchange(
            client.server.host, client.server.port, raw_get(f"{MESSAGES_SENT_PATH}?{GOOD}", headers)
        )
        assert parse_response(raw)[0] == 401


@pytest.mark.parametrize("value", [1e9, "1e9", "Infinity", 1e300, float("inf"), 10**15])
async def test_a_huge_or_infinite_login_expiration_means_no_expiry(client, db, caplog, value):
    db.rocketchat_settings.update_one({"_id": "Accounts_LoginExpiration"}, {"$set": {"value": value}})
    db.users.insert_one(
        user_doc("Old00000000000001", "old", ["admin"], [login_token("old-token", datetime(2001, 1, 1, tzinfo=UTC))])
    )
    status, _ = await get_messages_sent(
        client,
        {"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"},
        {"X-User-Id": "Old00000000000001", "X-Auth-Token": "old-token"},
    )
    assert status == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("value", [float("nan"), "NaN", "-Infinity"])
async def test_a_nonsense_login_expiration_means_rocket_chats_default(client, db, value):
    db.rocketchat_settings.update_one({"_id": "Accounts_LoginExpiration"}, {"$set": {"value": value}})
    now = datetime.now(UTC)
    db.users.insert_many(
        [
            user_doc("Fresh000000000009", "fresh", ["admin"], [login_token("t-89", now - timedelta(days=89))]),
            user_doc("Stale000000000009", "stale", ["admin"], [login_token("t-91", now - timedelta(days=91))]),
        ]
    )
    params = {"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"}
    assert (await get_messages_sent(client, params, {"X-User-Id": "Fresh000000000009", "X-Auth-Token": "t-89"}))[
        0
    ] == 200
    assert (await get_messages_sent(client, params, {"X-User-Id": "Stale000000000009", "X-Auth-Token": "t-91"}))[
        0
    ] == 401


async def test_failed_lookups_are_remembered_until_the_user_changes(client, db):
    """A repeated bad token costs no lookup; the moment the user's document changes, the token is looked up
    again, so a token Rocket.Chat has just added is accepted (and one it removed is refused)."""
    engine, lookups = client.server.app[ENGINE], client.server.app[USER_LOOKUPS]
    assert await until(lambda: engine.watchers and all(w.healthy for w in lookups_watchers(client)))
    params = {"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"}
    late = {"X-User-Id": ADMIN_ID, "X-Auth-Token": "token-not-yet-issued"}
    assert (await get_messages_sent(client, params, late))[0] == 401
    before = lookups.stats["lookups"]
    for _ in range(20):
        assert (await get_messages_sent(client, params, late))[0] == 401
    assert lookups.stats["lookups"] == before  # 20 refusals, no lookup
    # Rocket.Chat issues that token (a login): accepted as soon as the users stream shows the change.
    db.users.update_one(
        {"_id": ADMIN_ID},
        {"$push": {"services.resume.loginTokens": login_token("token-not-yet-issued", datetime.now(UTC))}},
    )
    assert await until(lambda: ok(client, params, late), 10)
    # And a logout removes it: refused again.
    db.users.update_one(
        {"_id": ADMIN_ID},
        {
            "$pull": {
                "services.resume.loginTokens": {
                    "hashedToken": login_token("token-not-yet-issued", datetime.now(UTC))["hashedToken"]
                }
            }
        },
    )
    assert await until(lambda: refused(client, params, late), 10)


def lookups_watchers(client):
    from engagement_svc.resources import STREAMS

    return [client.server.app[STREAMS].on("users")]


async def ok(client, params, headers):
    return (await get_messages_sent(client, params, headers))[0] == 200


async def refused(client, params, headers):
    return (await get_messages_sent(client, params, headers))[0] == 401


async def test_authenticated_answers_are_never_stored_and_name_no_version(client):
    for params, headers in (
        ({"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"}, ADMIN_HEADERS),
        ({"start": "nope"}, ADMIN_HEADERS),
        ({}, {}),
    ):
        response = await client.get(MESSAGES_SENT_PATH, params=params, headers=headers)
        assert response.headers["Cache-Control"] == "no-store", response.status
        assert response.headers["Server"] == "engagement-svc"
    assert (await client.get("/healthz")).headers["Server"] == "engagement-svc"


# -- parameters ---------------------------------------------------------------------------------------------------
def failed(field: str) -> dict:
    return {"success": False, "error": f"Match error: Failed Match.Where validation in field {field}"}


START, END = "2024-01-01T00:00:00.000Z", "2024-01-07T00:00:00.000Z"
BAD_INSTANTS = [
    "",
    " ",
    "null",
    "undefined",
    "NaN",
    "Infinity",
    "0",
    "-1",
    "1704067200000",
    "2024",
    "2024-01",
    "2024-01-01",
    "2024-01-01T00:00",
    "2024-01-01T00:00:00",
    "2024-01-01 00:00:00Z",
    "2024-01-01T24:00:00Z",
    "2024-13-01T00:00:00Z",
    "2024-02-30T00:00:00Z",
    "2023-02-29T00:00:00Z",
    "2024-01-01T00:60:00Z",
    "2024-01-01T00:00:61Z",
    "2024-01-01T00:00:00+24:00",
    "2024-01-01T00:00:00+05:60",
    "2024-01-01T00:00:00+0500",
    "2024-01-01T00:00:00 Z",
    "2024-01-01T00:00:00ZZ",
    "2024-01-01T00:00:00.Z",
    "+02024-01-01T00:00:00Z",
    "-2024-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "２０２４-01-01T00:00:00Z",
    "2024-01-01T00:00:00Z\x00",
    "2024-01-01T00:00:00Z\n",
    " 2024-01-01T00:00:00Z",
    "2024-01-01T00:00:00Z ",
    '{"$gt": ""}',
    "[object Object]",
    "' OR 1=1 --",
    "${jndi:ldap://x/a}",
    "<script>alert(1)</script>",
    "%00",
    "\u202e2024-01-01T00:00:00Z",
    "2024-01-01t00:00:00z ",
    "x" * 4000,
]
BAD_ZONES = [
    "",
    " ",
    "UTC ",
    "utc",
    "Europe/berlin",
    "posix/Europe/Berlin",
    "right/UTC",
    "localtime",
    "posixrules",
    "Factory",
    "/etc/localtime",
    "../../../../etc/passwd",
    "Europe/../Europe/Berlin",
    "Europe\\Berlin",
    "%2e%2e",
    "Europe/Berlin\x00",
    "+05:30",
    "GMT+5:30",
    "EST5EDT,M3.2.0,M11.1.0",
    "Mars/Olympus",
    "A" * 300,
    "日本/東京",
]


@pytest.mark.parametrize("value", BAD_INSTANTS)
@pytest.mark.parametrize("field", ["start", "end"])
async def test_malformed_instants_are_400_naming_the_field(client, field, value):
    params = {"start": START, "end": END, field: value}
    assert await get_messages_sent(client, params) == (400, failed(field))


async def test_a_long_fraction_of_a_second_is_still_rfc_3339(client):
    params = {"start": "2024-01-01T00:00:00." + "9" * 3000 + "Z", "end": END}  # 1*DIGIT: no upper bound
    status, body = await get_messages_sent(client, params)
    assert status == 200 and len(body["days"]) == 7


@pytest.mark.parametrize("value", BAD_ZONES)
async def test_malformed_zones_are_400_naming_the_field(client, value):
    assert await get_messages_sent(client, {"start": START, "end": END, "timezone": value}) == (400, failed("timezone"))


async def test_an_alias_zone_answers_as_its_canonical_zone(client):
    params = {"start": START, "end": END}
    assert await get_messages_sent(client, params | {"timezone": "Asia/Calcutta"}) == await get_messages_sent(
        client, params | {"timezone": "Asia/Kolkata"}
    )


@pytest.mark.parametrize(
    "query",
    [
        f"start[]={START}&end={END}",  # what a PHP-style client sends for an array
        f"start[$gt]=&end={END}",
        f"start={START}&start={START}&end={END}",
        f"start={START}&end={END}&end={END}",
        f"start={START}&end={END}&timezone=UTC&timezone=UTC",
        f"start={quote(START)}%00&end={END}",
        "start=%ff%fe&end=%c3",
        f"start={START}&end={END}&timezone=%ff",
    ],
)
async def test_odd_query_strings_are_400_not_500(client, query):
    response = await client.get(f"{MESSAGES_SENT_PATH}?{query}", headers=ADMIN_HEADERS)
    assert response.status == 400 and (await response.json())["success"] is False


# -- the HTTP parser ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(mongo_url, sync_client):
    """A real `engagement-svc serve` (aiohttp's C parser), for what only a real socket can send."""
    name = "rc_hostile"
    db = sync_client[name]
    from tests.support.rocketchat import base_documents, create_indexes

    create_indexes(db)
    base_documents(db, [user_doc(ADMIN_ID, "admin", ["admin"], [login_token(ADMIN_TOKEN, datetime.now(UTC))])])
    with LiveServer(
        with_database(mongo_url, name),
        ENGAGEMENT_STATE_MONGO_URL=with_database(mongo_url, name + "_state"),
        ENGAGEMENT_WARM_DAYS="0",
    ) as server:
        yield server
    sync_client.drop_database(name)
    sync_client.drop_database(name + "_state")


SECRET = b"tok-secret-part-123"
PARSER_CASES = {
    "bad_header": raw_get("/healthz", [b"X-Bad\x01Name: " + SECRET]),
    "bad_header_bytes": raw_get("/healthz", [b"X-Auth-Token: " + SECRET + b"\x00\x7f"]),
    "control_in_credential": raw_get(MESSAGES_SENT_PATH, [b"X-User-Id: " + SECRET + b"\x01", b"X-Auth-Token: x"]),
    "line_too_long": raw_get("/healthz?x=" + "a" * 9000, [b"X-Auth-Token: " + SECRET]),
    "header_too_long": raw_get("/healthz", [b"X-Auth-Token: " + SECRET + b"a" * 9000]),
    "too_many_headers": raw_get("/healthz", [b"X-H%d: %s" % (i, SECRET) for i in range(200)]),
    "bad_method": b"FOO" + SECRET + b" /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "not_http": b"\x16\x03\x01\x02\x00\x01" + SECRET + b"\r\n\r\n",
    "smuggling_cl_te": (
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    ),
    "smuggling_two_lengths": b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n",
    "smuggling_te_obfuscated": b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(PARSER_CASES))
async def test_what_the_parser_refuses_is_json_without_echo(live, case):
    raw = await raw_exchange("127.0.0.1", live.port, PARSER_CASES[case])
    status, headers, body = parse_response(raw)
    assert 400 <= status < 500, (status, raw[:300])
    assert headers["content-type"].startswith("application/json") and headers["server"] == "engagement-svc"
    assert json.loads(body)["success"] is False
    assert SECRET not in raw and b"aaaa" not in body
    assert raw.count(b"HTTP/1.") == 1  # one answer: nothing smuggled behind the request was answered


async def test_parser_refusals_are_counted_and_logged_at_warning_at_most(live):
    for case in PARSER_CASES.values():
        await raw_exchange("127.0.0.1", live.port, case)
    _, _, body = parse_response(await raw_exchange("127.0.0.1", live.port, raw_get("/metrics", [])))
    text = body.decode()
    assert metric(text, "engagement_svc_http_malformed_requests_total") >= len(PARSER_CASES) - 3
    assert metric(text, "engagement_svc_http_malformed_requests_total", reason="bad_method") >= 1
    lines = [json.loads(line) for line in live.output().splitlines() if line.startswith("{")]
    assert not [x for x in lines if x["level"] in ("ERROR", "CRITICAL")], [x for x in lines if x["level"] == "ERROR"]
    assert SECRET.decode() not in live.output()


async def test_slow_and_idle_connections_do_not_stop_others(live):
    """Slowloris: 200 connections that trickle half a request; a normal request is still answered."""
    writers = []
    try:
        for _ in range(200):
            _, writer = await asyncio.open_connection("127.0.0.1", live.port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            writers.append(writer)
        for _ in range(3):  # a byte more on each, sent (the server has them all, none of them a whole request)
            for writer in writers:
                writer.write(b"a")
            await asyncio.gather(*(writer.drain() for writer in writers))
        status, _, body = parse_response(await raw_exchange("127.0.0.1", live.port, raw_get("/healthz", [])))
        assert status == 200 and json.loads(body) == {"status": "ok"}
    finally:
        for writer in writers:
            writer.close()


async def test_invented_methods_share_one_metric_label(mongo_url, sync_client):
    """With aiohttp's pure-Python parser (AIOHTTP_NO_EXTENSIONS) any token is a method: it is labelled "other"."""
    name = "rc_methods"
    with LiveServer(
        with_database(mongo_url, name),
        ENGAGEMENT_STATE_MONGO_URL=with_database(mongo_url, name + "_st"),
        ENGAGEMENT_WARM_DAYS="0",
        AIOHTTP_NO_EXTENSIONS="1",
    ) as server:
        for method in (b"FOO", b"BAR", b"X" * 40):
            raw = await raw_exchange(
                "127.0.0.1", server.port, method + b" /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            assert parse_response(raw)[0] in (400, 405)
        _, _, body = parse_response(await raw_exchange("127.0.0.1", server.port, raw_get("/metrics", [])))
    sync_client.drop_database(name + "_st")
    methods = {
        s.labels.get("method")
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
        if s.name == "engagement_svc_http_requests_total"
    }
    assert methods <= {"GET", "other"}, methods
