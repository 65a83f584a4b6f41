"""The README stays true: its `make demo` sample is what the demo prints, its links lead somewhere, its API table
names every endpoint, and it (with the docs it links) fits 120 columns."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engagement_svc import __version__
from engagement_svc.api.routes import REPORTS
from engagement_svc.cli import demo_lines, listening_line
from engagement_svc.days import iso_z
from engagement_svc.reports.report import DASHBOARD as API
from engagement_svc.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DEMO_MARKERS = ("<!-- demo-output:begin -->", "<!-- demo-output:end -->")
# docs/scaling.md predates the 120-column rule (its tables of figures are wider).
WIDE_DOCS = {"scaling.md", "operations.md"}  # tables of queries
MARKDOWN = [README, *sorted((ROOT / "docs").glob("*.md"))]


def between(text: str, markers: tuple[str, str]) -> str:
    return text.split(markers[0], 1)[1].split(markers[1], 1)[0]


def without_code(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def test_the_demo_sample_is_what_the_demo_prints():
    block = between(README.read_text(encoding="utf-8"), DEMO_MARKERS).strip()
    assert block.startswith("```\n") and block.endswith("\n```")
    # The README folds long lines with a shell continuation and writes <api> for the endpoints' common prefix.
    shown = re.sub(r" \\\n +", " ", block[4:-4]).replace("<api>", f"http://127.0.0.1:<port>{API}").split("\n")

    now = datetime(2024, 3, 31, 12, 34, 56, 789000, tzinfo=UTC)
    settings = replace(Settings.from_env({"MONGO_URL": "mongodb://127.0.0.1/rocketchat"}), port=18080)
    lines = demo_lines(settings, ("ADMIN_ID", "ADMIN_TOKEN"), ("USER_ID", "USER_TOKEN"), now, 50123, 37999, "/DEMO_DB")
    printed = "\n".join([listening_line(settings), *lines])
    placeholders = {
        ":18080": ":<port>",
        ":37999": ":<mongod-port>",
        "50123": "<messages>",
        "/DEMO_DB": "<dir>",
        "ADMIN_ID": "<admin-id>",
        "ADMIN_TOKEN": "<admin-token>",
        "USER_ID": "<user-id>",
        "USER_TOKEN": "<user-token>",
        f" {__version__} ": " <version> ",
        iso_z(datetime(2024, 3, 25, tzinfo=UTC)): "<week-start>",
        iso_z(now - timedelta(days=29)): "<29-days-ago>",
        iso_z(now - timedelta(days=240)): "<240-days-ago>",
        iso_z(now): "<now>",
    }
    for value, placeholder in placeholders.items():
        printed = printed.replace(value, placeholder)
    assert shown == printed.split("\n")


def test_the_api_table_names_every_endpoint():
    section = README.read_text(encoding="utf-8").split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    assert f"`{API}/`" in section
    rows = [line for line in section.split("\n") if line.startswith("| [")]
    named = {m.group(1) for row in rows for m in re.finditer(r"`([^`]+)`", row.split(" | ")[0])}
    assert {r.path.removeprefix(f"{API}/") for r in REPORTS} <= named
    assert {"/healthz", "/readyz", "/metrics", "/api/openapi.json", "/dashboard/"} <= named


@pytest.mark.parametrize("path", [p for p in MARKDOWN if p.name not in WIDE_DOCS], ids=lambda p: p.name)
def test_no_line_is_over_120_characters(path):
    text = path.read_text(encoding="utf-8")
    long = [f"{n}: {line[:60]}..." for n, line in enumerate(text.split("\n"), 1) if len(line) > 120]
    assert not long


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for heading in re.findall(r"^#+ (.+)$", without_code(path.read_text(encoding="utf-8")), flags=re.M):
        base, n = slug(heading), 0
        while (name := base if n == 0 else f"{base}-{n}") in found:
            n += 1
        found.add(name)
    return found


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.name)
def test_relative_links_lead_to_files_and_headings(path):
    text = without_code(path.read_text(encoding="utf-8"))
    targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r"^\[[^\]]+\]: (\S+)$", text, flags=re.M)
    broken = []
    for target in targets:
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        # a link into a markdown file must name one of its headings (GitHub's anchors)
        if not linked.is_file() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)
    assert not broken
