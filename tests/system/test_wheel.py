"""The package as a user installs it: a wheel built from exactly what the image copies, installed into a fresh
venv, serves the whole dashboard page (the chart library included) from its own files, not from this checkout.

The wheel is built by pip in an isolated environment (setuptools from the registry). The fresh venv borrows the
dependencies (aiohttp, pymongo, ...) from this one through a .pth line, which adds their folder to sys.path
without running the editable install's hook there, so `engagement_svc` can only come from the wheel."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveServer
from tests.support.mongo import with_database

ROOT = Path(__file__).resolve().parents[2]
STATIC = "engagement_svc/dashboard/static/"
MEDIA = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


@pytest.fixture(scope="module")
def installed() -> Iterator[tuple[Path, zipfile.ZipFile]]:
    """(the venv, the wheel) in a temporary folder that is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="engagement-wheel-") as temp:
        folder = Path(temp)
        source = folder / "source"  # what docker/Dockerfile copies, so the tree's build/ stays untouched
        skip = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / "engagement_svc", source / "engagement_svc", ignore=skip)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, source / name)
        run = lambda *args: subprocess.run(args, check=True, capture_output=True, text=True, cwd=folder)
        run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(folder / "dist"), str(source))
        (wheel,) = (folder / "dist").glob("engagement_svc-*.whl")
        venv = folder / "venv"
        run(sys.executable, "-m", "venv", "--without-pip", str(venv))
        python = venv / "bin" / "python"
        pip = [sys.executable, "-m", "pip", "--python", str(python)]  # this venv's pip, offline: no ensurepip
        run(*pip, "install", "--quiet", "--no-deps", "--no-index", str(wheel))
        purelib = run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
        borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
        (Path(purelib) / "borrowed-dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
        with zipfile.ZipFile(wheel) as archive:
            yield venv, archive


def page_assets(html: str, script: str) -> list[str]:
    """What the page loads by address: the HTML's script and stylesheet addresses and what its script imports."""
    names = re.findall(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", html)
    names += re.findall(r"\bimport\b[^\"'`;]*?[\"']([^\"']+)[\"']", script)
    return sorted({name.removeprefix("./") for name in names if not name.startswith(("data:", "#"))})


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get_content_type(), response.read()


def test_the_wheel_carries_the_page_and_the_chart_library_with_its_licences(installed):
    _, wheel = installed
    names = set(wheel.namelist())
    for name in ("index.html", "app.js", "app.css", "vendor/chart.umd.js"):
        assert STATIC + name in names, name
    licences = {name for name in names if name.startswith(STATIC + "vendor/") and name.endswith(".LICENSE.md")}
    assert {n.rsplit("/", 1)[1] for n in licences} == {"chart.js.LICENSE.md", "kurkle-color.LICENSE.md"}
    assert all(b"MIT License" in wheel.read(name) for name in licences)
    assert not [n for n in names if n.startswith(("tests/", "bench/", "web/")) or "__pycache__" in n]


def test_the_installed_script_serves_every_asset_the_page_names_from_the_wheel(installed, mongo_url, db):
    venv, wheel = installed
    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import engagement_svc; print(engagement_svc.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=venv,
    ).stdout
    assert Path(where.strip()).is_relative_to(venv)  # the wheel's copy, not this checkout's
    html, script = wheel.read(STATIC + "index.html").decode(), wheel.read(STATIC + "app.js").decode()
    assets = page_assets(html, script)
    assert {"app.js", "app.css", "vendor/chart.umd.js"} <= set(assets)
    with LiveServer(with_database(mongo_url, db.name), [str(venv / "bin" / "engagement-svc"), "serve"]) as server:
        assert fetch(server.base_url + "/dashboard/") == (200, "text/html", wheel.read(STATIC + "index.html"))
        for name in assets:
            status, media, body = fetch(f"{server.base_url}/dashboard/{name}")
            assert (status, media) == (200, MEDIA[Path(name).suffix]), name
            assert body == wheel.read(STATIC + name), name
        assert server.terminate() == 0
