"""`make compare BASELINE=<git revision>`: the answers of this checkout and of an older revision, byte for byte.

Both run as real `engagement-svc serve` processes (the older one from a git worktree, on the same installed
libraries) against one embedded mongod holding the demo dataset. Every dashboard endpoint both serve is asked
for the same ranges in every canonical IANA zone; any answer that differs in one byte is printed. Asserts
nothing and exits 1 on a difference.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import aiohttp

from bench.run import Server, code_of
from engagement_svc.api.routes import MESSAGES_SENT_PATH
from engagement_svc.days import ZONE_NAMES, iso_z
from engagement_svc.demo.dataset import seed_demo
from engagement_svc.demo.embedded import EmbeddedMongo, free_port

RANGES_DAYS = (1, 7, 30, 90, 240)


def requests(now: datetime, zones: list[str]) -> list[str]:
    """Query strings: ranges ending now and ranges across the DST changes of 2024, in every zone."""
    queries = []
    for zone in zones:
        for days in RANGES_DAYS:
            start = now - timedelta(days=days - 1)
            queries.append(urlencode({"start": iso_z(start), "end": iso_z(now), "timezone": zone}))
        for first, last in (
            ("2024-03-20T00:00:00.000Z", "2024-04-05T00:00:00.000Z"),
            ("2024-10-20T12:00:00.000Z", "2024-11-10T12:00:00.000Z"),
        ):
            queries.append(urlencode({"start": first, "end": last, "timezone": zone}))
    return queries


async def compare(baseline: str, zones: list[str]) -> int:
    with EmbeddedMongo(cache_gb=0.5) as mongo:
        from pymongo import MongoClient

        now = datetime.now(UTC)
        client: MongoClient = MongoClient(mongo.url, tz_aware=True)
        creds = seed_demo(client.rocketchat, now=now, days=480)
        client.close()
        headers = {"X-User-Id": creds.admin_id, "X-Auth-Token": creds.admin_token}
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGO_URL", "ENGAGEMENT_", "PYTHONPATH"))}
        servers = {}
        for name, code in (("new", {}), ("old", code_of(baseline))):
            port = free_port()
            env = base_env | {
                "MONGO_URL": mongo.url_for("rocketchat"),
                "ENGAGEMENT_RATE_LIMIT_CALLS": "0",
                "ENGAGEMENT_STATE_MONGO_URL": mongo.url_for(f"state_{name}"),
                "ENGAGEMENT_QUERY_TIMEOUT_MS": "120000",
                "ENGAGEMENT_LOG_LEVEL": "WARNING",
            }
            command = [sys.executable, "-m", "engagement_svc", "serve", "--port", str(port)]
            servers[name] = Server(command, env, port, code)
        try:
            differences = same = 0
            async with aiohttp.ClientSession() as session:
                for server in servers.values():
                    await server.ready(session)
                for query in requests(now, zones):
                    bodies = {}
                    for name, server in servers.items():
                        url = f"http://127.0.0.1:{server.port}{MESSAGES_SENT_PATH}?{query}"
                        async with session.get(url, headers=headers) as response:
                            bodies[name] = (response.status, await response.read())
                    if bodies["new"] == bodies["old"] and bodies["new"][0] == 200:
                        same += 1
                    else:
                        differences += 1
                        print(
                            f"DIFFERENT {query}: new {bodies['new'][0]} {bodies['new'][1][:200]!r} / "
                            f"old {bodies['old'][0]} {bodies['old'][1][:200]!r}"
                        )
            print(
                f"{same} answers identical byte for byte, {differences} different "
                f"({len(zones)} zones, {creds.messages} messages)"
            )
            return 1 if differences else 0
        finally:
            for server in servers.values():
                server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("baseline", help="a checkout of the older revision (e.g. made by git worktree add)")
    parser.add_argument("--zones", type=int, default=0, help="only the first N zones (default: all)")
    args = parser.parse_args()
    zones = sorted(set(ZONE_NAMES.values()))
    return asyncio.run(compare(args.baseline, zones[: args.zones] if args.zones else zones))


if __name__ == "__main__":
    raise SystemExit(main())
