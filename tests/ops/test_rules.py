"""docker/prometheus: the scrape config and the alert rules pass promtool's checks, each alert fires and stays
quiet in promtool's unit tests (rules.test.yml), and every rule reads only what the service's /metrics exposes."""

from __future__ import annotations

import yaml

from tests.support.prometheus import (
    PROMETHEUS_DIR,
    exposed_names,
    promtool,
    rule_expressions,
    selectors,
    unknown,
)

ROOT = PROMETHEUS_DIR.parents[1]


def test_the_rules_and_the_config_pass_promtool_check():
    rules = promtool("check", "rules", "rules.yml", cwd=PROMETHEUS_DIR)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = promtool("check", "config", "prometheus.yml", cwd=PROMETHEUS_DIR)  # its rule_files checked too
    assert config.returncode == 0, config.stdout + config.stderr
    assert "1 rule files found" in config.stdout


def test_every_alert_fires_and_stays_quiet_in_promtools_unit_tests():
    result = promtool("test", "rules", "rules.test.yml", cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    # Each alert has a case where it fires and one where it is expected silent (beside series that come close).
    cases = yaml.safe_load((PROMETHEUS_DIR / "rules.test.yml").read_text())["tests"]
    checks = [check for case in cases for check in case["alert_rule_test"]]
    for alert in rule_expressions():
        fired = [c for c in checks if c["alertname"] == alert and c["exp_alerts"]]
        quiet = [c for c in checks if c["alertname"] == alert and not c["exp_alerts"]]
        assert fired and quiet, alert


def test_a_broken_expectation_fails_the_unit_tests(tmp_path):
    """promtool's unit tests do compare: the same file with one alert expected on the wrong replica fails."""
    (tmp_path / "rules.yml").write_text((PROMETHEUS_DIR / "rules.yml").read_text())
    broken = (
        (PROMETHEUS_DIR / "rules.test.yml").read_text().replace('instance: "stuck:8080"', 'instance: "moving:8080"')
    )
    (tmp_path / "rules.test.yml").write_text(broken)
    result = promtool("test", "rules", "rules.test.yml", cwd=tmp_path)
    assert result.returncode != 0 and "EngagementBackfillStalled" in result.stdout + result.stderr


async def test_every_rule_reads_only_what_the_service_exports(client):
    names = await exposed_names(client)
    wrong = {alert: unknown(expr, names) for alert, expr in rule_expressions().items()}
    found = {alert: w for alert, w in wrong.items() if w}
    assert found == {}
    for alert, expr in rule_expressions().items():
        assert selectors(expr), alert  # each reads at least one metric


def test_the_scrape_job_reaches_the_service_as_compose_runs_it():
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    assert config["rule_files"] == ["rules.yml"]
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "engagement-svc"  # the rules' `up{job="engagement-svc"}`
    assert 'job="engagement-svc"' in rule_expressions()["EngagementSvcDown"]
    service = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text())["services"]["engagement-svc"]
    port = service["environment"]["ENGAGEMENT_PORT"]
    assert job["static_configs"] == [{"targets": [f"engagement-svc:{port}"]}]


def test_expressions_are_read_into_metrics_and_labels():
    """The reader of PromQL the checks above rely on: functions, keywords, grouping labels, strings, durations
    and numbers are not metrics; matchers give label names."""
    expr = (
        'sum by (job, instance) (rate(a_total{route="/x", status=~"5.."}[5m])) / on (job) group_left b'
        ' > 0.1 unless c offset 1w and histogram_quantile(0.9, sum by (le) (rate(d_bucket{x!="}"}[$r])))'
    )
    assert selectors(expr) == [("a_total", {"route", "status"}), ("b", set()), ("c", set()), ("d_bucket", {"x"})]
    names = {"a_total": {"route"}, "b": set(), "c": set(), "d_bucket": {"x", "le"}}
    assert unknown(expr, names) == ["a_total{status}"]
    assert unknown('up{job="x"} == 0 or absent(up{job="x"})', {}) == []
    assert unknown("nope", names) == ["nope"]


def test_the_operations_guide_shows_every_alert_and_its_firing():
    guide = (ROOT / "docs" / "operations.md").read_text()
    section = guide.split("## Grafana and alerts", 1)[1]
    for alert in rule_expressions():
        assert section.count(f"| {alert} |") == 2, alert  # in the rules' table and the firing examples' table
