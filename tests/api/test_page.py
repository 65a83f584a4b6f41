"""The dashboard page's files: served from a fixed list, with a strict CSP (no inline script, nothing from
another origin) and cache headers; the chart library is the pinned npm package's own file."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from engagement_svc.api.page import CSP, FILES, STATIC

ROOT = Path(__file__).resolve().parents[2]


async def test_the_page_and_its_assets_are_served_with_a_strict_policy(client):
    response = await client.get("/dashboard", allow_redirects=False)
    assert response.status == 308 and response.headers["Location"] == "/dashboard/"
    for name, (_, media) in FILES.items():
        response = await client.get("/dashboard/" + name)
        assert response.status == 200, name
        assert response.content_type == media
        assert response.headers["Content-Security-Policy"] == CSP
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == ("no-cache" if name == "" else "public, max-age=3600")
        assert "ETag" in response.headers or "Last-Modified" in response.headers
    assert "'unsafe-inline'" not in CSP and "http" not in CSP and "script-src 'self'" in CSP


async def test_nothing_else_is_served(client):
    for path in [
        "/dashboard/%2e%2e/pyproject.toml",
        "/dashboard/page.py",
        "/dashboard/vendor/",
        "/dashboard/app.js.map",
        "/dashboard//etc/passwd",
    ]:
        response = await client.get(path)
        assert response.status == 404, path


def test_the_page_has_no_inline_script_or_style_and_no_other_origin():
    html = (STATIC / "index.html").read_text()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert "<style" not in html and " style=" not in html and not re.search(r"\son[a-z]+=", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)


def test_the_chart_library_is_the_pinned_package():
    """The committed files are the ones web/vendor.json records (each one's sha256), and it records the versions
    web/package-lock.json pins; `make vendor-check` compares the same files with the registry's, byte for byte."""
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())["packages"]
    version = lock["node_modules/chart.js"]["version"]
    assert json.loads((ROOT / "web" / "package.json").read_text())["dependencies"]["chart.js"] == version
    recorded = json.loads((ROOT / "web" / "vendor.json").read_text())["files"]
    for item in recorded:
        assert item["version"] == lock["node_modules/" + item["package"]]["version"], item["to"]
        assert hashlib.sha256((ROOT / item["to"]).read_bytes()).hexdigest() == item["sha256"], item["to"]
    targets = {item["to"] for item in recorded}
    # The served file, and a licence beside each package it bundles (Chart.js and its @kurkle/color).
    assert "engagement_svc/dashboard/static/" + FILES["vendor/chart.umd.js"][0] in targets
    assert {(item["package"], item["path"]) for item in recorded if item["path"].startswith("LICENSE")} == {
        ("chart.js", "LICENSE.md"),
        ("@kurkle/color", "LICENSE.md"),
    }
    served = (STATIC / "vendor" / "chart.umd.js").read_bytes()
    assert f"v{version}".encode() in served[:400]
