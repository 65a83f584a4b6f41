"""The container files agree with the service: names and ports of its settings, what the image copies (the chart
library included), what the build context leaves out, the start-up order, and passwords of any character.

There is no container engine here, so the files are checked, not run; the shell step that puts the passwords in
the MongoDB URLs is run, with this machine's sh (and busybox's tools, as in Rocket.Chat's Alpine image, if here)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from pymongo.uri_parser import parse_uri

from engagement_svc.cli import ENVIRONMENT_HELP
from engagement_svc.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
# Every character that means something in a URL, a shell or JSON, and a non-ASCII one.
HOSTILE_PASSWORD = "p@ss:w/rd?#%25+ &=;,[]ü\"'$`\\ end%"


def substituted(value: str, password: str = "a-real-password") -> str:
    """Compose's ${NAME:-default} with the default, and ${NAME:?error} (a required value) with a stand-in."""
    value = re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", lambda _: password, str(value))
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yml").read_text())


def tool_sets() -> list[str]:
    """The tools to run mongo-url.sh with: this machine's sh and od, and busybox's (Alpine's) if installed."""
    return ["sh"] + (["busybox"] if shutil.which("busybox") else [])


def service_url(service: str, password: str, tools: str = "sh") -> str:
    """The MONGO_URL a compose service runs with: its environment (the password put in) through its entrypoint."""
    definition = compose()["services"][service]
    assert definition["entrypoint"] == ["/bin/sh", "/mongo-url.sh"]
    assert "./mongo-url.sh:/mongo-url.sh:ro" in definition["volumes"]
    environment = {k: substituted(v, password) for k, v in definition["environment"].items()}
    print_url = [sys.executable, "-c", "import os; print(os.environ['MONGO_URL'], end='')"]
    with tempfile.TemporaryDirectory(prefix="engagement-busybox-") as bin_dir:
        path = os.environ["PATH"]
        shell = "/bin/sh"
        if tools == "busybox":  # sh and od busybox's, as in an Alpine image
            busybox = shutil.which("busybox")
            assert busybox
            for applet in ("sh", "od"):
                os.symlink(busybox, os.path.join(bin_dir, applet))
            path, shell = bin_dir, os.path.join(bin_dir, "sh")
        result = subprocess.run(
            [shell, str(DOCKER / "mongo-url.sh"), *print_url],
            env={"PATH": path, **environment},
            capture_output=True,
            text=True,
            check=True,
        )
    return result.stdout


def dockerignore_excludes(path: str) -> bool:
    """Whether the build context leaves `path` out, by Docker's rules: a pattern leaves out what it matches and
    everything under it; `*` and `?` stay within a folder, `**` spans folders; a later `!pattern` takes back."""
    excluded = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        regex = ""
        for token in re.findall(r"\*\*/|\*\*|\*|\?|[^*?]+", pattern):
            regex += {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token) or re.escape(token)
        parts = path.split("/")
        if any(re.fullmatch(regex, "/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            excluded = not negated
    return excluded


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
    services = compose()["services"]
    service = services["engagement-svc"]
    assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert service["command"] == ["engagement-svc", "serve"]  # what the image runs, after mongo-url.sh
    environment = {k: substituted(v) for k, v in service["environment"].items() if not k.startswith("MONGO_")}
    environment["MONGO_URL"] = service_url("engagement-svc", "a-real-password")  # mongo-url.sh's MONGO_* make it
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
    rocketchat = service_url("rocketchat", "a-real-password")
    assert rocketchat.split("@", 1)[1].split("?")[0] == environment["MONGO_URL"].split("@", 1)[1].split("?")[0]
    assert "replicaSet=rs0" in rocketchat and "replicaSet=rs0" in environment["MONGO_URL"]


def test_compose_publishes_on_loopback_and_refuses_to_start_without_passwords():
    text = (DOCKER / "compose.yml").read_text()
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert substituted(port).startswith("127.0.0.1:"), (name, port)
    assert "change-me" not in text
    for variable in ("MONGO_ROOT_PASSWORD", "ROCKETCHAT_MONGO_PASSWORD", "ENGAGEMENT_MONGO_PASSWORD"):
        uses = re.findall(r"\$\{" + variable + r"(:[?-][^}]*)?\}", text)
        assert uses and all(u.startswith(":?") for u in uses), (variable, uses)  # required, never defaulted


def test_the_image_gets_the_chart_library_with_the_package():
    """The chart library is committed inside the package (web/vendor.json lists its files); the image copies the
    package, the build context keeps the files, and no npm stage is left to fetch them."""
    copied = [args.split()[:-1] for op, args in dockerfile_instructions() if op == "COPY"]
    sources = [source.rstrip("/") for sources in copied for source in sources]
    vendored = [item["to"] for item in json.loads((ROOT / "web" / "vendor.json").read_text())["files"]]
    assert "engagement_svc/dashboard/static/vendor/chart.umd.js" in vendored
    tracked = subprocess.run(
        ["git", "ls-files", "--", *vendored], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert sorted(tracked) == sorted(vendored)  # in the repository, not made by a build step
    for path in vendored:
        assert any(path == s or path.startswith(s + "/") for s in sources), path
        assert not dockerignore_excludes(path), path
    instructions = dockerfile_instructions()
    assert [op for op, _ in instructions].count("FROM") == 1  # no build stage of its own
    assert not [args for _, args in instructions if "--from=" in args or "npm" in args]


def test_the_build_context_leaves_out_the_heavy_folders_and_keeps_what_the_image_copies():
    for path in (
        ".git/HEAD",
        ".venv/bin/python",
        "web/node_modules/chart.js/package.json",
        "node_modules/x/index.js",
        "bench/data/db/mongod.lock",
        "bench/results/big.json",
        "tests/conftest.py",
        "screenshots/page.png",
        ".baseline/README.md",
        ".pytest_cache/v/cache",
        "build/lib/engagement_svc/cli.py",
        "dist/engagement_svc-0.1.0-py3-none-any.whl",
        "engagement_svc.egg-info/PKG-INFO",
        "engagement_svc/__pycache__/cli.cpython-311.pyc",
        "engagement_svc/api/__pycache__/page.cpython-311.pyc",
    ):
        assert dockerignore_excludes(path), path
    copied = [s for op, args in dockerfile_instructions() if op == "COPY" for s in args.split()[:-1]]
    tracked = subprocess.run(["git", "ls-files", "--", *copied], cwd=ROOT, capture_output=True, text=True, check=True)
    files = tracked.stdout.split()
    assert "pyproject.toml" in files and "engagement_svc/cli.py" in files
    assert [f for f in files if dockerignore_excludes(f)] == []


def test_compose_starts_each_service_once_what_it_needs_is_ready():
    services = compose()["services"]
    health = services["mongo"]["healthcheck"]
    assert health["test"][0] == "CMD" and "ping" in " ".join(health["test"])
    assert services["mongo-replica-set"]["depends_on"] == {"mongo": {"condition": "service_healthy"}}
    assert services["mongo-replica-set"]["restart"] == "no"  # a job: it completes, and its exit code counts
    for name in ("rocketchat", "engagement-svc"):
        assert services[name]["depends_on"] == {
            "mongo": {"condition": "service_healthy"},
            "mongo-replica-set": {"condition": "service_completed_successfully"},
        }, name
    for name, service in services.items():  # no bare list: every dependency waits for a condition
        assert isinstance(service.get("depends_on", {}), dict), name
    # The job gives up (exit 1) rather than loop for ever, and succeeds only once the set has a primary.
    job = " ".join(services["mongo-replica-set"]["entrypoint"])
    assert "exit 1" in job and "isWritablePrimary" in job


@pytest.mark.parametrize("tools", tool_sets())
def test_a_password_of_any_character_reaches_mongodb_unchanged(tools):
    """Each service's URL, made from compose's environment by mongo-url.sh, gives the driver back the exact user and
    password, and the rest of the URL (hosts, database, options) as compose wrote it."""
    for service, user, options in (
        ("engagement-svc", "engagement", {"replicaSet": "rs0", "authSource": "admin"}),
        ("rocketchat", "rocketchat", {"replicaSet": "rs0", "authSource": "admin"}),
    ):
        url = service_url(service, HOSTILE_PASSWORD, tools)
        parsed = parse_uri(url)
        assert (parsed["username"], parsed["password"]) == (user, HOSTILE_PASSWORD), service
        assert parsed["nodelist"] == [("mongo", 27017)] and parsed["database"] == "rocketchat", service
        assert options.items() <= {k: v for k, v in parsed["options"].items() if isinstance(v, str)}.items(), service
    node = shutil.which("node")
    if node:  # Rocket.Chat's side: Node's URL parser and decodeURIComponent, as its MongoDB driver decodes it
        script = "const u = new URL(process.argv[1]); process.stdout.write(decodeURIComponent(u.password))"
        decoded = subprocess.run(
            [node, "-e", script, service_url("rocketchat", HOSTILE_PASSWORD, tools)],
            text=True,
            capture_output=True,
            check=True,
        ).stdout
        assert decoded == HOSTILE_PASSWORD


def test_the_init_script_reads_the_passwords_as_they_are():
    init = (DOCKER / "mongo-init.js").read_text()
    for variable in ("ROCKETCHAT_MONGO_PASSWORD", "ENGAGEMENT_MONGO_PASSWORD"):
        assert f'pwd: password("{variable}")' in init
    assert "process.env[name]" in init and "throw" in init  # unset: stop, never a user without a password
    environment = compose()["services"]["mongo"]["environment"]
    assert {"ROCKETCHAT_MONGO_PASSWORD", "ENGAGEMENT_MONGO_PASSWORD"} <= set(environment)
