"""Prometheus for the tests of docker/prometheus and docker/grafana: Debian's promtool and prometheus binaries, the
metric names (and label names) a PromQL expression reads, the names a /metrics text exposes, and a real Prometheus
process on a loopback port."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.data import ADMIN_HEADERS
from tests.support.http import MESSAGES_SENT_PATH
from tests.support.live import answering, free_port

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "docker" / "prometheus"
GRAFANA_DIR = ROOT / "docker" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "engagement-svc.json"
INSTALL = "Debian's prometheus package is needed (promtool, prometheus): apt-get install prometheus (make test does)"

# What the dashboard's variables stand for when its expressions are checked (Grafana fills them in).
DASHBOARD_VARIABLES = {"$__rate_interval": "2m", "$bots": "exclude", "$instance": ".*"}
# Metrics Prometheus makes itself for every target, besides what the target exports.
PROMETHEUS_OWN = {"up": {"job", "instance"}}


def binary(name: str) -> str:
    """The path of promtool or prometheus; a failure saying how to install them when missing."""
    path = shutil.which(name) or f"/usr/bin/{name}"
    if not Path(path).exists():
        raise RuntimeError(INSTALL)
    return path


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([binary("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


# PromQL's words that are not metric names, and the label lists of grouping and matching clauses.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless"}
LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
TOKEN = re.compile(
    r"""(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    |(?P<number>\d[\w.]*)
    |(?P<name>[A-Za-z_:][\w:]*)
    |(?P<braces>\{(?:[^}"]|"(?:[^"\\]|\\.)*")*\})
    |(?P<range>\[[^\]]*\])
    |(?P<other>\S)""",
    re.VERBOSE,
)
MATCHER = re.compile(r"""([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)\s*(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """Each metric an expression reads, with the label names its matchers name: `rate(a{x="1"}[5m]) / b` ->
    [("a", {"x"}), ("b", set())]. Functions and aggregations (a name before "(") and keywords are not metrics."""
    tokens = [(m.lastgroup, m.group()) for m in TOKEN.finditer(LABEL_LIST.sub(" ", expr))]
    found = []
    for i, (kind, text) in enumerate(tokens):
        if kind != "name" or text in KEYWORDS:
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
        if following == ("other", "("):
            continue
        labels = set(MATCHER.findall(following[1])) if following[0] == "braces" else set()
        found.append((text, labels))
    return found


def exported(text: str) -> dict[str, set[str]]:
    """Every series name a /metrics text exposes (counters' `_total`, histograms' `_bucket`...), with the label
    names seen on its samples; a family without samples yet still gives its names (labels unknown: empty)."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created")}
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for suffix in suffixes.get(family.type, ("",)):
            names.setdefault(family.name + suffix, set())
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def unknown(expr: str, names: dict[str, set[str]]) -> list[str]:
    """What an expression reads that the service does not export: a metric, or a label of one (Prometheus adds
    `job` and `instance` to every series it scrapes)."""
    wrong = []
    known = {**names, **PROMETHEUS_OWN}
    for metric, labels in selectors(expr):
        if metric not in known:
            wrong.append(metric)
        elif extra := labels - known[metric] - {"job", "instance"}:
            wrong.append(f"{metric}{{{','.join(sorted(extra))}}}")
    return wrong


def rule_expressions() -> dict[str, str]:
    """rules.yml's alerts: name -> expression."""
    groups = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text())["groups"]
    return {rule.get("alert") or rule["record"]: rule["expr"] for group in groups for rule in group["rules"]}


def dashboard_panels() -> list[dict]:
    """Every panel of the dashboard, those inside collapsed rows too."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [p for top in panels for p in [top, *top.get("panels", [])]]


def dashboard_expressions() -> dict[str, str]:
    """Each query of the dashboard ("panel title / refId" -> PromQL), its variables filled in as Grafana would."""
    out = {}
    for panel in dashboard_panels():
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in DASHBOARD_VARIABLES.items():
                expr = expr.replace(variable, value)
            out[f"{panel['title']} / {target['refId']}"] = expr
    return out


class LivePrometheus:
    """A real Prometheus on a loopback port scraping `targets` every second, its data in a temporary folder
    removed on exit."""

    def __init__(self, targets: list[str], rule_files: list[Path] = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = tempfile.TemporaryDirectory(prefix="engagement-prometheus-")
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [{"job_name": "engagement-svc", "static_configs": [{"targets": targets}]}],
        }
        self.config = Path(self.folder.name) / "prometheus.yml"
        self.config.write_text(json.dumps(config))  # JSON is YAML
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> LivePrometheus:
        self.process = subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={self.config}",
                f"--storage.tsdb.path={Path(self.folder.name) / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        answering(self.process, self.url + "/-/ready", self.output, "prometheus")
        return self

    def query(self, expr: str) -> list[dict]:
        """An instant query through the HTTP API: the result vector."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def rule_groups(self) -> list[dict]:
        """The rules loaded, with each rule's health and state (/api/v1/rules)."""
        with urllib.request.urlopen(self.url + "/api/v1/rules", timeout=10) as response:
            return json.load(response)["data"]["groups"]

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        self.folder.cleanup()


async def exposed_names(client) -> dict[str, set[str]]:
    """The names (and label names) a running app's /metrics exposes, once it has answered a report, /healthz and
    /readyz, so that the labelled series (routes, statuses, MongoDB commands, caches) have samples."""
    params = {"start": "2024-01-01T00:00:00.000Z", "end": "2024-01-07T00:00:00.000Z"}
    assert (await client.get(MESSAGES_SENT_PATH, params=params, headers=ADMIN_HEADERS)).status == 200
    for path in ("/healthz", "/readyz"):
        assert (await client.get(path)).status == 200
    response = await client.get("/metrics")
    assert response.status == 200
    return exported(await response.text())
