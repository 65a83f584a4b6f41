"""docker/grafana: the dashboard's every query passes promtool's check and reads only what the service exposes, it
shows the engagement numbers beside the service's health, and the provisioning gives it its data source."""

from __future__ import annotations

import json
import re

import yaml

from tests.support.prometheus import (
    DASHBOARD,
    GRAFANA_DIR,
    dashboard_expressions,
    dashboard_panels,
    exposed_names,
    promtool,
    selectors,
    unknown,
)

ENGAGEMENT_GAUGES = {
    "engagement_messages_sent",
    "engagement_people_posting",
    "engagement_new_users",
    "engagement_active_users",
    "engagement_active_users_by_client",
    "engagement_gauges_age_seconds",
    "engagement_gauges_stale",
    "engagement_gauges_refresh_seconds",
}
HEALTH = {
    "up",
    "engagement_svc_http_requests_total",
    "engagement_svc_http_request_duration_seconds_bucket",
    "engagement_svc_mongodb_command_duration_seconds_bucket",
    "engagement_svc_backfill_days_left",
    "engagement_svc_change_stream_up",
    "engagement_svc_days_history_lost_total",
}


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_every_query_passes_promtool_check_as_a_recording_rule(tmp_path):
    expressions = dashboard_expressions()
    assert len(expressions) >= 20
    rules = [{"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(expressions.values())]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_a_wrong_query_fails_promtool_check(tmp_path):
    path = tmp_path / "wrong.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "r", "expr": "sum(rate(x[5m])"}]}]}))
    assert promtool("check", "rules", str(path)).returncode != 0


async def test_every_query_reads_only_what_the_service_exports(client):
    names = await exposed_names(client)
    wrong = {title: unknown(expr, names) for title, expr in dashboard_expressions().items()}
    found = {title: w for title, w in wrong.items() if w}
    assert found == {}


def test_the_engagement_numbers_and_the_services_health_side_by_side():
    read = {metric for expr in dashboard_expressions().values() for metric, _ in selectors(expr)}
    assert read >= ENGAGEMENT_GAUGES, ENGAGEMENT_GAUGES - read
    assert read >= HEALTH, HEALTH - read
    # The engagement queries follow the bots choice, and replicas (which export the same numbers) are not summed.
    for title, expr in dashboard_expressions().items():
        for metric, labels in selectors(expr):
            if metric in ENGAGEMENT_GAUGES - {m for m in ENGAGEMENT_GAUGES if m.startswith("engagement_gauges_")}:
                assert "bots" in labels, title
                assert not re.search(r"\bsum\b", expr), title


def test_panels_have_unique_ids_fit_the_grid_and_ask_for_the_data_source():
    panels = dashboard_panels()
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"] and panel.get("description"), panel["title"]


def test_every_variable_used_is_defined_and_the_provisioned_source_is_its_default():
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    used = set(re.findall(r"\$\{?(\w+)", DASHBOARD.read_text())) - {"__rate_interval", "__all"}
    assert used <= set(variables), used - set(variables)
    assert set(variables["bots"]["query"].split(",")) == {"exclude", "include"}
    (source,) = yaml.safe_load((GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["type"] == variables["datasource"]["query"] == "prometheus"
    assert source["uid"] == variables["datasource"]["current"]["value"]
    assert source["url"] == "http://prometheus:9090" and source["isDefault"]


def test_the_provider_loads_the_folder_compose_mounts():
    (provider,) = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "engagement-svc.yml").read_text())[
        "providers"
    ]
    grafana = yaml.safe_load((GRAFANA_DIR.parent / "compose.yml").read_text())["services"]["grafana"]
    mounts = dict(volume.rsplit(":", 1)[0].split(":", 1) for volume in grafana["volumes"] if volume.startswith("./"))
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"
    assert dashboard()["uid"] == "engagement-svc"
