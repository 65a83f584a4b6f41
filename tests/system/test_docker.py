"""The container files agree with the service: names and ports of its settings, and what the image copies.

There is no container engine here, so the files are checked, not run."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from engagement_svc.cli import ENVIRONMENT_HELP
from engagement_svc.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


def substituted(value: str) -> str:
    """Compose's ${NAME:-default} with the default, and ${NAME:?error} (a required value) with a stand-in."""
    value = re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "a-real-password", str(value))
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_every_file_the_image_copies_exists():
    context = ROOT  # compose builds with context ".." and the Dockerfile says to build from the root
    copies = [
        args.split()[:-1] for op, args in dockerfile_instructions() if op == "COPY" and not args.startswith("--from=")
    ]
    assert copies
    for sources in copies:
        for source in sources:
            assert (context / source).exists(), source


def test_image_is_slim_non_root_installs_from_pyproject_and_checks_healthz():
    instructions = dockerfile_instructions()
    ops = dict(instructions)
    assert re.fullmatch(r"python:3\.1[1-9]-slim", ops["FROM"])
    assert ops["USER"] not in ("root", "0")
    assert "pip install ." in ops["RUN"] and "requirements" not in (DOCKER / "Dockerfile").read_text()
    assert "/healthz" in ops["HEALTHCHECK"]
    assert ops["ENTRYPOINT"] == '["engagement-svc"]' and ops["CMD"] == '["serve"]'
    env = dict(re.findall(r"([A-Z_]+)=(\S+)", ops["ENV"]))
    assert env["ENGAGEMENT_PORT"] == ops["EXPOSE"] == "8080"


def test_compose_environment_matches_the_settings():
    compose = yaml.safe_load((DOCKER / "compose.yml").read_text())
    service = compose["services"]["engagement-svc"]
    assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    environment = {k: substituted(v) for k, v in service["environment"].items()}
    for name in environment:  # every variable it sets is one the service reads and documents
        assert name in ENVIRONMENT_HELP, name
    settings = Settings.from_env(environment)
    assert settings.database == "rocketchat" and settings.host == "0.0.0.0"
    assert [f"127.0.0.1:{settings.port}:{settings.port}"] == [substituted(p) for p in service["ports"]]
    assert "readPreference=secondaryPreferred" in environment["MONGO_URL"]
    # It connects as the read-only user, which the init script creates with exactly these roles.
    assert environment["MONGO_URL"].startswith("mongodb://engagement:")
    init = (DOCKER / "mongo-init.js").read_text()
    engagement = init[init.index('user: "engagement"') :]
    assert '{ role: "read", db: "rocketchat" }' in engagement
    assert '{ role: "readWrite", db: "engagement_svc" }' in engagement
    assert '"readWrite", db: "rocketchat"' not in engagement
    # Rocket.Chat and the service read the same database of the same replica set.
    rocketchat = substituted(compose["services"]["rocketchat"]["environment"]["MONGO_URL"])
    assert rocketchat.split("@", 1)[1].split("?")[0] == environment["MONGO_URL"].split("@", 1)[1].split("?")[0]
    assert "replicaSet=rs0" in rocketchat and "replicaSet=rs0" in environment["MONGO_URL"]


def test_compose_publishes_on_loopback_and_refuses_to_start_without_passwords():
    text = (DOCKER / "compose.yml").read_text()
    compose = yaml.safe_load(text)
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert substituted(port).startswith("127.0.0.1:"), (name, port)
    assert "change-me" not in text
    for variable in ("MONGO_ROOT_PASSWORD", "ROCKETCHAT_MONGO_PASSWORD", "ENGAGEMENT_MONGO_PASSWORD"):
        uses = re.findall(r"\$\{" + variable + r"(:[?-][^}]*)?\}", text)
        assert uses and all(u.startswith(":?") for u in uses), (variable, uses)  # required, never defaulted
