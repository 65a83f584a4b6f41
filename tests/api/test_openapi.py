"""The OpenAPI 3.1 document describes every route, every report with the parameters its query reads, and the
running server keeps to it under fuzzing."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from importlib.resources import files

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from pymongo import MongoClient
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from engagement_svc import __version__
from engagement_svc.api.params import FORMAT
from engagement_svc.api.routes import REPORTS
from engagement_svc.app import create_app
from engagement_svc.reports.report import DASHBOARD
from tests.support.data import ANALYST, add_analysts, seed_workspace
from tests.support.http import MESSAGES_SENT_PATH
from tests.support.live import LiveServer
from tests.support.mongo import with_database

DOCUMENT = json.loads(files("engagement_svc.api").joinpath("openapi.json").read_text())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_every_route_is_documented(settings):
    routes = {(r.method, r.resource.canonical) for r in create_app(settings).router.routes() if r.method != "HEAD"}
    routes |= {("OPTIONS", path) for _, path in routes if path.startswith("/api/")}  # the CORS middleware's
    documented = {(m.upper(), p) for p, ops in DOCUMENT["paths"].items() for m in ops}
    assert routes == documented
    assert DOCUMENT["openapi"].startswith("3.1") and DOCUMENT["info"]["version"] == __version__


def without_duplicates(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), f"a key written twice: {keys}"
    return dict(pairs)


def query_parameters(operation: dict) -> list[tuple[str, bool]]:
    return [(p["name"], p.get("required", False)) for p in operation.get("parameters", []) if p["in"] == "query"]


def test_every_report_has_one_entry_with_the_parameters_its_query_reads():
    """The parameters a report's query reads (reports/queries.py), then `format`, which the pipeline reads for all:
    the same names, equally required, each once. tests/reports/test_queries.py checks that the parsers read those."""
    kept = json.loads(
        files("engagement_svc.api").joinpath("openapi.json").read_text(), object_pairs_hook=without_duplicates
    )
    for report in REPORTS:
        operation = kept["paths"][report.path]["get"]
        documented = query_parameters(operation)
        declared = [(p.name, p.required) for p in (*report.params.parameters, FORMAT)]
        assert sorted(documented) == sorted(declared), report.path
        assert len(set(documented)) == len(documented), report.path


def test_every_dashboard_path_documented_is_a_served_report():
    assert {p for p in DOCUMENT["paths"] if p.startswith(DASHBOARD + "/")} == {r.path for r in REPORTS}
    assert len({r.path for r in REPORTS}) == len(REPORTS)


async def test_served_document_is_the_kept_one(client):
    response = await client.get("/api/openapi.json")
    assert response.status == 200 and response.content_type == "application/json"
    assert await response.json() == DOCUMENT


@pytest.fixture(scope="module")
def live(mongo_url):
    """a served workspace, with an admin, a user without the permission and a rate-limited analyst."""
    client = MongoClient(mongo_url, tz_aware=True)
    name = "rc_fuzz_" + datetime.now(UTC).strftime("%H%M%S%f")
    db = client[name]
    creds = seed_workspace(db, days=60, per_day=40)
    add_analysts(db, (ANALYST, "analyst"))
    with LiveServer(
        with_database(mongo_url, name),
        ENGAGEMENT_STATE_MONGO_URL=with_database(mongo_url, name + "_state"),
        ENGAGEMENT_QUERY_TIMEOUT_MS="20000",
    ) as server:
        server.credentials = {
            "admin": {"X-User-Id": creds.admin_id, "X-Auth-Token": creds.admin_token},
            "plain user": {"X-User-Id": creds.user_id, "X-Auth-Token": creds.user_token},
            "analyst": ANALYST,
            "wrong token": {"X-User-Id": creds.admin_id, "X-Auth-Token": "not-the-token"},
            "anonymous": {},
        }
        server.seen = set()
        yield server
        log = server.output()
    if any(path == MESSAGES_SENT_PATH for path, _ in server.seen):  # the fuzz ran: it reached every answer
        assert {s for p, s in server.seen if p == MESSAGES_SENT_PATH} == {200, 400, 401, 403, 405, 429}
    client.drop_database(name)
    client.drop_database(name + "_state")
    client.close()
    assert "Traceback" not in log and '"status": 500' not in log


# The kept document; the served one is the same (test above).
schema = schemathesis.openapi.from_path(str(files("engagement_svc.api").joinpath("openapi.json")))
# Valid requests and invalid ones (wrong types, missing keys, odd strings): both must get no 5xx.
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@schema.parametrize()
@hypothesis_settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),  # make fuzz: 2,000
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_fuzzed_requests_get_no_5xx_and_conform(case, live):
    """Each generated request goes out as every kind of caller: admin, no permission, rate-limited, bad token,
    anonymous. (Parametrized fixtures do not mix with a lazily loaded schema, hence the loop.)"""
    for headers in live.credentials.values():
        response = case.call_and_validate(base_url=live.base_url, headers=headers, checks=CHECKS, timeout=30)
        live.seen.add((case.path, response.status_code))
