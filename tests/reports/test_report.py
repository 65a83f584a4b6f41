"""A report: its CSV table named, headed and filled by the report's own parts, what can fail read before the table
is handed over, and remembered answers keyed apart from every other report's."""

from __future__ import annotations

import pkgutil
from importlib import import_module

import pytest

from engagement_svc import reports
from engagement_svc.reports.csv import lines_of
from engagement_svc.reports.queries import DAY, LIST, MEMBERS, NOTHING, RANGE, ROOM, TEAM_RANGE
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.sources import Sources
from engagement_svc.settings import Settings
from tests.support.fake_sources import FakeCounts, FakeRooms, csv_text

SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")
QUERY = {"start": "2024-03-30T22:30:00.000Z", "end": "2024-04-02T10:00:00.000Z", "timezone": "UTC", "roomId": "R1"}
SOURCES = Sources(FakeCounts({}), FakeRooms([]))


def every_report() -> list[Report]:
    found = []
    for info in pkgutil.iter_modules(reports.__path__):
        module = import_module(f"{reports.__name__}.{info.name}")
        if hasattr(module, "REPORT"):
            found.append(module.REPORT)
    return found


async def never(sources, q):
    raise AssertionError("not asked")


def made(csv, name="x-y", header=("A", "B")) -> Report:
    return Report(
        path=f"{DASHBOARD}/x/y", summary="", params=RANGE, json=never, csv=csv, csv_name=name, csv_header=header
    )


async def test_the_table_is_the_reports_name_header_and_lines():
    async def csv(sources, q):
        return lines_of([("a;b", 1), ('=say "hi"', 2)], text_columns=(0,))

    filename, text = await csv_text(made(csv), SOURCES, RANGE.parse(QUERY, SETTINGS))
    assert filename == "x-y_2024-03-30_2024-04-02.csv"
    assert text == '"A";"B"\n"a;b";"1"\n"\'=say ""hi""";"2"\n'


async def test_a_failure_before_the_lines_is_raised_by_the_table_itself():
    """The pipeline can still answer 503: nothing of the answer is sent before `table` returns."""

    async def csv(sources, q):
        raise TimeoutError

    with pytest.raises(TimeoutError):
        await made(csv).table(SOURCES, RANGE.parse(QUERY, SETTINGS))


def test_every_report_has_its_own_path_under_the_dashboard_and_one_line_summary():
    found = every_report()
    assert len(found) == 14
    assert len({r.path for r in found}) == len(found)
    assert len({r.csv_name for r in found}) == len(found)
    for report in found:
        assert report.path.startswith(DASHBOARD + "/") and report.summary and "\n" not in report.summary
        assert report.params in (RANGE, TEAM_RANGE, DAY, LIST, MEMBERS, NOTHING, ROOM) and report.csv_header


def test_remembered_answers_of_two_reports_or_two_parts_never_share_a_key():
    found = every_report()
    keys = set()
    for report in found:
        q = report.params.parse(QUERY, SETTINGS)
        keys |= {report.key(q), report.key(q, "days"), report.key(q, "json")}
        key = report.key(q)
        assert key[len(key) - len(q.key()) :] == q.key()
    assert len(keys) == 3 * len(found)
