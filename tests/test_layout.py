"""The house keeps its layers: no module imports a layer above its own, and nothing in the package imports the
benchmark or the tests."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "engagement_svc"

# Lowest first. A module may import its own layer and the ones before it, never one after it.
LAYERS = [
    (
        "base",
        [
            "days",
            "settings",
            "logs",
            "metrics",
            "mongo_errors",
            "mongo_health",
            "mongo_waits",
            "tasks",
            "memory",
            "bounded_cache",
            "mongo_types",
            "__init__",
        ],
    ),
    ("rocketchat", ["rocketchat"]),
    ("counting", ["counting"]),
    ("reports", ["reports"]),
    ("resources", ["resources"]),
    ("digest", ["digest"]),  # the digest: the reports' numbers (through resources' Sources) posted to a webhook
    ("api", ["api", "dashboard"]),  # dashboard: the static files api/page.py serves (no code)
    ("app", ["app"]),
    ("demo", ["demo"]),
    ("cli", ["cli", "__main__"]),
]
RANK = {name: rank for rank, (_, names) in enumerate(LAYERS) for name in names}


def layer_of(module: str) -> int:
    """engagement_svc.counting.engine -> the rank of `counting`."""
    parts = module.split(".")
    assert parts[0] == "engagement_svc", module
    return RANK[parts[1] if len(parts) > 1 else "__init__"]


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(p for p in relative.parts if p != "__init__")
        out.append((name, path))
    return out


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


@pytest.mark.parametrize("name, path", modules(), ids=[m for m, _ in modules()])
def test_no_module_imports_a_layer_above_its_own(name, path):
    own = layer_of(name)
    for imported in imports(path):
        assert not imported.startswith(("bench", "tests")), f"{name} imports {imported}"
        if imported.startswith("engagement_svc"):
            assert layer_of(imported) <= own, (
                f"{name} ({LAYERS[own][0]}) imports {imported} ({LAYERS[layer_of(imported)][0]})"
            )


def test_every_module_has_a_layer():
    for name, _ in modules():
        layer_of(name)


# What a report may import of the layers below: the vocabulary of counts (which metrics, which time slots). The
# counts themselves and Rocket.Chat's rooms reach it as `reports.sources.Sources`, never a database handle.
REPORTS_MAY_IMPORT = ("engagement_svc.counting.catalog", "engagement_svc.counting.slots")


def test_reports_hold_no_database_code():
    for path in (PACKAGE / "reports").rglob("*.py"):
        for imported in imports(path):
            assert not imported.startswith(("pymongo", "motor", "bson")), (path, imported)
            if imported.startswith(("engagement_svc.counting", "engagement_svc.rocketchat")):
                assert imported in REPORTS_MAY_IMPORT, (path, imported)


def test_reports_import_no_api():
    """The layers say so already; said again because queries.py moved down from api/ for this."""
    for path in (PACKAGE / "reports").rglob("*.py"):
        assert not any(i.startswith("engagement_svc.api") for i in imports(path)), path


def test_no_test_module_imports_another():
    root = PACKAGE.parent / "tests"
    for path in root.rglob("*.py"):
        for imported in imports(path):
            if imported.startswith("tests"):
                assert imported.startswith(("tests.support", "tests.conftest")) and ".test_" not in imported, (
                    f"{path.relative_to(root)} imports {imported}"
                )


def test_test_support_shares_no_code_with_the_service():
    """The oracle and the Rocket.Chat documents the tests write are made apart from the service (and its demo):
    a misreading shared by both would pass every test. The one import left is the mongod the tests run against (a
    process, not data)."""
    for path in (PACKAGE.parent / "tests" / "support").rglob("*.py"):
        for imported in imports(path):
            if imported.startswith("engagement_svc"):
                assert imported == "engagement_svc.demo.embedded", f"{path.name} imports {imported}"


@pytest.mark.parametrize("folder", ["counting", "reports"])
def test_every_module_of_the_core_has_a_test_module_of_its_name(folder):
    tests = PACKAGE.parent / "tests" / folder
    missing = [
        f"tests/{folder}/test_{path.stem}.py"
        for path in sorted((PACKAGE / folder).glob("*.py"))
        if path.stem != "__init__" and not (tests / f"test_{path.stem}.py").exists()
    ]
    assert missing == []


def test_no_module_is_over_500_lines_and_the_engine_stays_a_small_facade():
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 500
    }
    assert long == {}
    engine = ast.parse((PACKAGE / "counting" / "engine.py").read_text())
    (facade,) = [node for node in engine.body if isinstance(node, ast.ClassDef) and node.name == "Engine"]
    fields = {
        target.attr
        for node in ast.walk(facade)
        for target in (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"
    }
    assert len(fields) < 12, sorted(fields)
    assert len((PACKAGE / "counting" / "engine.py").read_text().splitlines()) < 200
