"""docker/compose.yml's Prometheus and Grafana: pinned images, loopback ports, provisioned from docker/prometheus
and docker/grafana, Grafana's admin password required (docker is not run here: the files are checked)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def services() -> dict:
    return yaml.safe_load((DOCKER / "compose.yml").read_text())["services"]


def test_images_are_pinned_to_a_release():
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", services()["prometheus"]["image"])
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", services()["grafana"]["image"])


def test_ports_are_on_loopback_unless_widened():
    assert services()["prometheus"]["ports"] == ["${PROMETHEUS_BIND:-127.0.0.1}:9090:9090"]
    # Rocket.Chat has 3000 on the host: Grafana's 3000 is published as 3001.
    assert services()["grafana"]["ports"] == ["${GRAFANA_BIND:-127.0.0.1}:3001:3000"]


def test_prometheus_reads_the_config_and_rules_of_docker_prometheus():
    prometheus = services()["prometheus"]
    assert "./prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    for name in ("prometheus.yml", "rules.yml", "rules.test.yml"):
        assert (DOCKER / "prometheus" / name).is_file(), name
    # The DAU alert compares with a week earlier: the data kept must reach back further.
    (retention,) = [a for a in prometheus["command"] if a.startswith("--storage.tsdb.retention.time=")]
    assert int(retention.split("=")[1].removesuffix("d")) > 7
    assert prometheus["depends_on"] == {"engagement-svc": {"condition": "service_started"}}


def test_grafana_is_provisioned_and_its_admin_password_required():
    grafana = services()["grafana"]
    for volume in grafana["volumes"]:
        if volume.startswith("./"):
            assert (DOCKER / volume.split(":")[0]).is_dir(), volume
    assert (
        grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == "${GRAFANA_ADMIN_PASSWORD:?set GRAFANA_ADMIN_PASSWORD}"
    )
    assert grafana["environment"]["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert grafana["depends_on"] == {"prometheus": {"condition": "service_started"}}
    volumes = yaml.safe_load((DOCKER / "compose.yml").read_text())["volumes"]
    assert {"prometheus-data", "grafana-data"} <= set(volumes)
