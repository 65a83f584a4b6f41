"""`python -m bench.scrapes`: what the engagement gauges on /metrics cost. Asserts nothing.

On bench/run.py's dataset (generated once in bench/data, or in BENCH_MONGO_URL; --messages 1M by default here), or
with --big on the big-server dataset (bench/big_dataset.py, made by `python -m bench.big --generate-only`), a
real `engagement-svc serve` with ENGAGEMENT_GAUGES_SECONDS=1, so that every scrape a second apart refreshes:
- the first scrape (today's figures and the 30 days before read for the first time) and then --scrapes refreshing
  scrapes: the scrape's time, `engagement_gauges_refresh_seconds`, and the MongoDB commands sent between two
  scrapes by name (from the service's own `engagement_svc_mongodb_command_duration_seconds_count`); the same
  interval on a service with the gauges off gives the background's commands (change streams, sweep) to subtract;
- the API's latency (messages-sent, 30 days, warm, --concurrency clients in a closed loop) for --seconds without
  scrapes, with one refreshing scrape a second, and without again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bench.run import SERVE, Server, load, summary, timed_read, window
from engagement_svc.days import iso_z

COMMANDS = "engagement_svc_mongodb_command_duration_seconds_count"


async def scraped(session, port: int) -> tuple[float, dict[str, float], Counter]:
    """One scrape: its time, the engagement_gauges_ figures, and the commands sent so far by name."""
    began = time.perf_counter()
    async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    seconds = time.perf_counter() - began
    status: dict[str, float] = {}
    commands: Counter = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("engagement_gauges_"):
                status[sample.name] = sample.value
            elif sample.name == COMMANDS:
                commands[sample.labels["command"]] += int(sample.value)
    return seconds, status, commands


async def scrape_cost(args, session, port: int) -> dict:
    first, status, before = await scraped(session, port)
    out: dict = {"first_scrape_ms": round(first * 1000, 1), "first_refresh_ms": status_ms(status)}
    times, refreshes, per_scrape = [], [], []
    for _ in range(args.scrapes):
        await asyncio.sleep(1.05)
        seconds, status, after = await scraped(session, port)
        times.append(seconds)
        refreshes.append(status.get("engagement_gauges_refresh_seconds", 0.0))
        per_scrape.append(after - before)
        before = after
    out["scrape"] = summary(times)
    out["refresh"] = summary(refreshes)
    out["commands_per_interval"] = dict(sum(per_scrape, Counter()))
    out["commands_per_interval"] = {k: round(v / args.scrapes, 2) for k, v in out["commands_per_interval"].items()}
    out["stale"] = status.get("engagement_gauges_stale")
    return out


def status_ms(status: dict[str, float]) -> float | None:
    value = status.get("engagement_gauges_refresh_seconds")
    return None if value is None else round(value * 1000, 1)


async def background_commands(args, session, port: int) -> dict:
    """Commands a service with the gauges off sends in the same intervals (its scrapes read nothing)."""
    _, _, before = await scraped(session, port)
    total: Counter = Counter()
    for _ in range(args.scrapes):
        await asyncio.sleep(1.05)
        _, _, after = await scraped(session, port)
        total += after - before
        before = after
    return {k: round(v / args.scrapes, 2) for k, v in total.items()}


async def api_latency(args, session, port: int, url: str, headers: dict) -> dict:
    """p50/p95 of the API under a closed loop, without scrapes, with one a second, and without again."""
    out: dict = {}
    for phase in ("without", "with", "without_again"):
        scraping = asyncio.ensure_future(scrape_every_second(session, port)) if phase == "with" else None
        try:
            out[phase] = await load(session, url, headers, args.concurrency, args.seconds, 10**9)
        finally:
            if scraping is not None:
                scraping.cancel()
        print(f"  {phase}: {out[phase]}", flush=True)
    base = (out["without"]["p50_ms"] + out["without_again"]["p50_ms"]) / 2
    out["p50_change_pct"] = round(100 * (out["with"]["p50_ms"] - base) / base, 1)
    return out


async def scrape_every_second(session, port: int) -> None:
    while True:
        began = time.perf_counter()
        await scraped(session, port)
        await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - began)))


async def measure(args, mongo_url_for, anchor: datetime) -> dict:
    from bench.dataset import BENCH_TOKEN, BENCH_USER_ID
    from engagement_svc.demo.embedded import free_port
    from engagement_svc.reports import messages_sent

    headers = {"X-User-Id": BENCH_USER_ID, "X-Auth-Token": BENCH_TOKEN}
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MONGO_URL", "ENGAGEMENT_"))}
    env = base | {
        "MONGO_URL": mongo_url_for(args.database),
        "ENGAGEMENT_STATE_MONGO_URL": mongo_url_for(args.database + "_state"),
        "ENGAGEMENT_QUERY_TIMEOUT_MS": "300000",
        "ENGAGEMENT_WARM_DAYS": "0",
        "ENGAGEMENT_RATE_LIMIT_CALLS": "0",
        "ENGAGEMENT_LOG_LEVEL": "WARNING",
        "ENGAGEMENT_GAUGES_SECONDS": "1",
    }
    start, end, _, _ = window(anchor, 30)
    out: dict = {}
    async with aiohttp.ClientSession() as session:
        for gauges in ("1", "0"):
            port = free_port()
            url = f"http://127.0.0.1:{port}{messages_sent.REPORT.path}?start={iso_z(start)}&end={iso_z(end)}"
            server = Server([*SERVE, str(port)], env | {"ENGAGEMENT_GAUGES_SECONDS": gauges}, port)
            try:
                await server.ready(session)
                await timed_read(session, url, headers)  # the range counted once: the API warm
                if gauges == "1":
                    print("scrape cost", flush=True)
                    out["cost"] = await scrape_cost(args, session, port)
                    print(f"  {out['cost']}", flush=True)
                    print("API latency without and with 1 scrape/s", flush=True)
                    out["api"] = await api_latency(args, session, port, url, headers)
                else:
                    out["background_commands_per_interval"] = await background_commands(args, session, port)
                    print(f"  background: {out['background_commands_per_interval']}", flush=True)
            finally:
                server.stop()
    return out


def big_anchor(args, client) -> datetime:
    """The big-server dataset's anchor (its default shape, as `make bench-big` makes it); not made here."""
    from bench import big
    from bench.big_dataset import existing_anchor

    shape = big.build_parser().parse_args([])
    args.database = args.database or f"engagement_bench_big_{shape.messages}_{shape.rooms}_{shape.days}"
    args.days = shape.days
    anchor = existing_anchor(client[args.database], shape.messages, shape.users, shape.rooms, shape.logins, shape.days)
    if anchor is None:
        raise SystemExit(
            f"no complete big-server dataset in {args.database}: run `python -m bench.big --generate-only`"
        )
    return anchor


def main() -> int:
    from pymongo import MongoClient

    from bench.dataset import add_sessions, existing_anchor, generate, sessions_present
    from engagement_svc.demo.embedded import EmbeddedMongo

    parser = argparse.ArgumentParser(prog="python -m bench.scrapes", description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--database", default=None, help="default: engagement_bench, or bench.big's with --big")
    parser.add_argument("--big", action="store_true", help="bench.big's dataset in its default shape (made first)")
    parser.add_argument("--scrapes", type=int, default=20, help="refreshing scrapes measured")
    parser.add_argument("--seconds", type=float, default=60.0, help="each phase of the API latency run")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--output", default=None, help="default: bench/results/scrapes.json (scrapes-big.json)")
    args = parser.parse_args()
    args.output = args.output or f"bench/results/scrapes{'-big' if args.big else ''}.json"
    external = os.environ.get("BENCH_MONGO_URL")
    mongo = None
    if external:
        root = external.split("?")[0].rstrip("/")
        root = root.rsplit("/", 1)[0] if root.count("/") > 2 else root
        mongo_url_for = lambda name: f"{root}/{name}"  # noqa: E731
        server_url = external
    else:
        mongo = EmbeddedMongo(cache_gb=6 if args.big else 4, data_dir=str(Path("bench/data").resolve()))
        mongo.start(timeout=120)
        mongo_url_for, server_url = mongo.url_for, mongo.url
    client: MongoClient = MongoClient(server_url, tz_aware=True)
    anchor: datetime | None
    try:
        if args.big:
            anchor = big_anchor(args, client)
        else:
            args.database = args.database or "engagement_bench"
            anchor = existing_anchor(client[args.database], args.messages, args.days, args.rooms)
        db = client[args.database]
        if anchor is None:
            print(f"generating {args.messages:,} messages over {args.days} days", flush=True)
            anchor = generate(db, args.messages, args.days, args.rooms, progress=print)
        if not args.big and not sessions_present(db):  # the big dataset has its own sessions (no meta of this kind)
            add_sessions(db, anchor, args.days, progress=print)
        report = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "cores": os.cpu_count(),
            "dataset": {
                "database": args.database,
                "messages": db.rocketchat_message.estimated_document_count(),
                "sessions": db.rocketchat_sessions.estimated_document_count(),
                "days": args.days,
                "anchor": anchor.isoformat(),
            },
            **asyncio.run(measure(args, mongo_url_for, anchor)),
        }
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=1))
        return 0
    finally:
        client.close()
        if mongo is not None:
            mongo.stop()


if __name__ == "__main__":
    sys.exit(main())
