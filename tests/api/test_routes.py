"""The routes table serves every report of reports/, each once, and the operators' endpoints."""

from __future__ import annotations

import pkgutil
from importlib import import_module

from engagement_svc import reports
from engagement_svc.api.routes import OPS, REPORTS


def test_every_report_module_is_served_once():
    modules = [import_module(f"{reports.__name__}.{m.name}") for m in pkgutil.iter_modules(reports.__path__)]
    defined = [m.REPORT for m in modules if hasattr(m, "REPORT")]
    assert len(REPORTS) == len(set(REPORTS)) == len(defined) == 14
    assert set(REPORTS) == set(defined)


def test_the_operators_endpoints():
    assert [path for path, _ in OPS] == ["/healthz", "/readyz", "/metrics", "/api/openapi.json"]
