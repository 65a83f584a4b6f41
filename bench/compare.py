"""`make compare BASELINE=<git revision>`: the answers of this checkout and of an older revision, byte for byte.

Both run as real `engagement-svc serve` processes (the older one from a git worktree, on the same installed
libraries) against one embedded mongod holding the demo dataset, and both are asked the same requests of all nine
dashboard endpoints. Two answers are the same when both are 200 with the same body bytes and the same
Content-Type, Content-Disposition, Cache-Control, Pragma and X-Content-Type-Options; anything else counts as
different, and the first --show differences (and the first of each endpoint) are printed. Prints the identical and
different answers per endpoint; asserts nothing and exits 1 on a difference.

The requests, each asked once (by default about 22,000, each of both revisions: about two minutes on 2 cores):
- messages-sent as JSON over the ranges below in every canonical IANA zone (--zones N: the first N);
- the full matrix in the --matrix-zones (a dozen by default: DST zones of both hemispheres, half-hour and
  45-minute offsets, the day-line zones, UTC): every --endpoints x every --bots choice x JSON and CSV
  (`format=csv`), over the ranges below (channels/list: its sorts both ways and several pages as JSON, its sorts
  as CSV, over the ranges in the data; hourly-data and weekly-data: `start` only, at instants of the same ranges
  and at each DST change of the zone in the data);
- CSV asked with `Accept: text/csv` instead of `format=csv`: every endpoint over the ranges in the first matrix
  zone.
Ranges: the last 1, 7, 30, 90 and 240 days, the DST changes of spring and autumn 2024, and those of the last
spring and autumn in the data. Options may also come from COMPARE_ARGS in the environment (so `make compare
BASELINE=... COMPARE_ARGS='--endpoints channels'` passes them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from urllib.parse import urlencode

import aiohttp

from bench.run import Server, code_of
from engagement_svc.days import ZONE_NAMES, iso_z
from engagement_svc.demo.dataset import seed_demo
from engagement_svc.demo.embedded import EmbeddedMongo, free_port

# The nine paths, written out here (not imported from engagement_svc.api.routes: the baseline's and this
# checkout's routes must both answer exactly these). Kinds: "range" takes start and end, "day" takes start only,
# "list" is a range with offset, count and sort.
API = "/api/v1/engagement-dashboard"
ENDPOINTS: dict[str, tuple[str, str]] = {
    "messages-sent": (f"{API}/messages/messages-sent", "range"),
    "origin": (f"{API}/messages/origin", "range"),
    "top-five": (f"{API}/messages/top-five-popular-channels", "range"),
    "new-users": (f"{API}/users/new-users", "range"),
    "active-users": (f"{API}/users/active-users", "range"),
    "by-hour": (f"{API}/users/users-by-time-of-the-day-in-a-week", "range"),
    "hourly": (f"{API}/users/chat-busier/hourly-data", "day"),
    "weekly": (f"{API}/users/chat-busier/weekly-data", "day"),
    "channels": (f"{API}/channels/list", "list"),
}
BOTS = ("include", "exclude", "only")  # include is Rocket.Chat's behaviour: asked without the parameter
FORMATS = ("json", "csv")  # json: no parameter; csv: format=csv
SORT_FIELDS = ("messages", "lastWeekMessages", "diffFromLastWeek", "name", "ts", "_updatedAt")
SORTS = tuple(s for field in SORT_FIELDS for s in (field, "-" + field))
# Pages (offset, count) of channels/list asked in every sort: the first ten, the next ten, the default (50).
PAGES: tuple[tuple[str | None, str | None], ...] = (("0", "10"), ("10", "10"), (None, None))
# Once per range with the default sort: a page from the middle, the largest page, count 0 (the default), an offset
# past the end (an empty page with the total).
EXTRA_PAGES: tuple[tuple[str | None, str | None], ...] = (("3", "7"), ("0", "100"), ("0", "0"), ("100000", "5"))
HEADERS = ("Content-Type", "Content-Disposition", "Cache-Control", "Pragma", "X-Content-Type-Options")

RANGES_DAYS = (1, 7, 30, 90, 240)
MATRIX_ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/St_Johns",  # -3:30 with DST
    "America/Santiago",  # DST changes at local midnight: a day that starts at 01:00, a day with 23:00 twice
    "Asia/Kolkata",  # +5:30
    "Asia/Kathmandu",  # +5:45
    "Australia/Adelaide",  # +9:30 with DST, southern hemisphere
    "Australia/Lord_Howe",  # +10:30, a half-hour DST
    "Pacific/Chatham",  # +12:45 with DST
    "Pacific/Kiritimati",  # +14
    "Africa/Monrovia",  # -0:44:30 until 1972
)


@dataclass(frozen=True)
class Case:
    endpoint: str
    query: str
    accept: str | None = None  # an Accept header instead of the format parameter

    @property
    def target(self) -> str:
        return f"{ENDPOINTS[self.endpoint][0]}?{self.query}"

    def __str__(self) -> str:
        return self.target + (f" [Accept: {self.accept}]" if self.accept else "")


def ranges(now: datetime) -> list[tuple[datetime, datetime]]:
    """Ranges ending now, across the DST changes of 2024 (as before: older than the data, so every count is 0),
    and across the last spring's and autumn's DST changes in the data (March 5 to April 10 holds the changes of
    North America, Europe, Australia, New Zealand and Chile; September 20 to November 10 those of autumn)."""
    found = [(now - timedelta(days=days - 1), now) for days in RANGES_DAYS]
    found += [
        (datetime(2024, 3, 20, tzinfo=UTC), datetime(2024, 4, 5, tzinfo=UTC)),
        (datetime(2024, 10, 20, 12, tzinfo=UTC), datetime(2024, 11, 10, 12, tzinfo=UTC)),
    ]
    for first, last in (((3, 5, 0), (4, 10, 0)), ((9, 20, 12), (11, 10, 12))):
        year = now.year if datetime(now.year, *last, tzinfo=UTC) < now else now.year - 1
        found.append((datetime(year, *first, tzinfo=UTC), datetime(year, *last, tzinfo=UTC)))
    return found


@cache
def dst_changes(zone: str, now: datetime, days: int) -> list[datetime]:
    """The instants the zone's UTC offset changed in the `days` before now (found hour by hour)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=days)
    changes, offset = [], hour.astimezone(tz).utcoffset()
    while hour < now:
        hour += timedelta(hours=1)
        if (found := hour.astimezone(tz).utcoffset()) != offset:
            changes.append(hour)
            offset = found
    return changes


def queries(endpoint: str, zone: str, bots: str, fmt: str, now: datetime, data_days: int) -> list[str]:
    """The query strings of one endpoint in one zone, bots choice and format (json, csv, or accept: CSV asked by
    the Accept header, so no format parameter)."""
    kind = ENDPOINTS[endpoint][1]
    common: dict[str, str] = {"timezone": zone}
    if bots != "include":
        common["bots"] = bots
    if fmt == "csv":
        common["format"] = "csv"
    found: list[dict[str, str]] = []
    if kind == "day":
        instants = [start for start, _ in ranges(now)] + [now - timedelta(hours=13)]
        instants += dst_changes(zone, now, data_days)
        found = [{"start": iso_z(instant)} for instant in instants]
    else:
        for start, end in ranges(now):
            span = {"start": iso_z(start), "end": iso_z(end)}
            found.append(span)
            if kind != "list" or start < now - timedelta(days=data_days):  # before the data: an empty list
                continue
            if fmt != "json":  # the CSV has every row, whatever the page: its sorts only
                found += [span | {"sort": sort} for sort in SORTS]
                continue
            found += [span | page(offset, count) for offset, count in EXTRA_PAGES]
            found += [span | page(offset, count) | {"sort": sort} for sort in SORTS for offset, count in PAGES]
    return [urlencode(q | common) for q in found]


def page(offset: str | None, count: str | None) -> dict[str, str]:
    return {k: v for k, v in (("offset", offset), ("count", count)) if v is not None}


def cases(args: argparse.Namespace, now: datetime, data_days: int) -> list[Case]:
    """Every request once, in a stable order: the zone sweep, the matrix, the Accept sweep."""
    found: dict[Case, None] = {}
    if "messages-sent" in args.endpoints:
        zones = sorted(set(ZONE_NAMES.values()))
        for zone in zones[: args.zones] if args.zones else zones:
            for q in queries("messages-sent", zone, "include", "json", now, data_days):
                found[Case("messages-sent", q)] = None
    for endpoint in args.endpoints:
        for zone in args.matrix_zones:
            for bots in args.bots:
                for fmt in args.formats:
                    for q in queries(endpoint, zone, bots, fmt, now, data_days):
                        found[Case(endpoint, q)] = None
    if args.matrix_zones:
        for endpoint in args.endpoints:
            for q in queries(endpoint, args.matrix_zones[0], "include", "accept", now, data_days):
                found[Case(endpoint, q, accept="text/csv")] = None
    return list(found)


@dataclass
class Answer:
    status: int | None  # None: no answer (refused, timed out)
    headers: dict[str, str | None]
    body: bytes
    error: str = ""


async def ask(session: aiohttp.ClientSession, port: int, case: Case, headers: dict[str, str]) -> Answer:
    if case.accept:
        headers = headers | {"Accept": case.accept}
    try:
        async with session.get(f"http://127.0.0.1:{port}{case.target}", headers=headers) as response:
            body = await response.read()
            return Answer(response.status, {h: response.headers.get(h) for h in HEADERS}, body)
    except (TimeoutError, aiohttp.ClientError) as exc:
        return Answer(None, {}, b"", f"{type(exc).__name__}: {exc}")


def difference(new: Answer, old: Answer) -> str:
    """What differs between the two answers, or "" when they are the same 200."""
    if new.status is None or old.status is None:
        return f"no answer: new {new.error or new.status}, old {old.error or old.status}"
    found = []
    if new.status != old.status:
        found.append(f"status: new {new.status}, old {old.status}")
    elif new.status != 200:
        found.append(f"both answered {new.status}, not 200: {new.body[:300]!r}")
    found += [
        f"{h}: new {new.headers[h]!r}, old {old.headers[h]!r}" for h in HEADERS if new.headers[h] != old.headers[h]
    ]
    if new.body != old.body:
        at = next((i for i, (a, b) in enumerate(zip(new.body, old.body, strict=False)) if a != b), None)
        at = min(len(new.body), len(old.body)) if at is None else at
        since = max(0, at - 60)
        found.append(
            f"body ({len(new.body)} bytes new, {len(old.body)} old) differs from byte {at}:\n"
            f"      new ...{new.body[since : at + 80]!r}\n      old ...{old.body[since : at + 80]!r}"
        )
    return "; ".join(found)


async def compare(baseline: str, args: argparse.Namespace) -> int:
    data_days = 480
    with EmbeddedMongo(cache_gb=0.5) as mongo:
        from pymongo import MongoClient

        began = time.monotonic()
        now = datetime.now(UTC)
        client: MongoClient = MongoClient(mongo.url, tz_aware=True)
        creds = seed_demo(client.rocketchat, now=now, days=data_days)
        client.close()
        todo = cases(args, now, data_days)
        print(
            f"demo dataset of {creds.messages} messages over {data_days} days ready in "
            f"{time.monotonic() - began:.0f} s; {len(todo)} requests, each asked of both revisions, "
            f"{args.concurrency} at a time",
            flush=True,
        )
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
            same: Counter[str] = Counter()
            different: Counter[str] = Counter()
            types: Counter[str | None] = Counter()  # of this checkout's answers: are the CSV requests CSV?
            shown: list[str] = []
            first: dict[str, str] = {}  # the first difference of each endpoint, printed at the end if not shown
            began = time.monotonic()
            queue: asyncio.Queue[Case] = asyncio.Queue()
            for case in todo:
                queue.put_nowait(case)
            timeout = aiohttp.ClientTimeout(total=args.timeout)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                for server in servers.values():
                    await server.ready(session)

                async def worker() -> None:
                    while not queue.empty():
                        case = queue.get_nowait()
                        # One revision after the other: at most --concurrency requests at a time in all.
                        new = await ask(session, servers["new"].port, case, headers)
                        old = await ask(session, servers["old"].port, case, headers)
                        types[new.headers.get("Content-Type")] += 1
                        if found := difference(new, old):
                            different[case.endpoint] += 1
                            text = f"DIFFERENT {case}\n    {found}"
                            first.setdefault(case.endpoint, text)
                            if len(shown) < args.show:
                                shown.append(text)
                                print(text, flush=True)
                        else:
                            same[case.endpoint] += 1
                        done = sum(same.values()) + sum(different.values())
                        if done % 1000 == 0:
                            print(f"  {done} of {len(todo)} in {time.monotonic() - began:.0f} s", flush=True)

                await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            seconds = time.monotonic() - began
            for text in first.values():
                if text not in shown:
                    print(text)
            width = max(len(e) for e in ENDPOINTS)
            for endpoint in args.endpoints:
                print(f"  {endpoint:<{width}}  {same[endpoint]:6} identical  {different[endpoint]:5} different")
            total_same, total_different = sum(same.values()), sum(different.values())
            print(
                f"{total_same + total_different} answers compared in {seconds:.0f} s: {total_same} identical byte for "
                f"byte, {total_different} different ({len(args.matrix_zones)} matrix zones, bots "
                f"{','.join(args.bots)}, formats {','.join(args.formats)}; {creds.messages} messages)"
            )
            print("  by Content-Type: " + ", ".join(f"{n} {t}" for t, n in types.most_common()))
            return 1 if total_different else 0
        finally:
            for server in servers.values():
                server.stop()


def names(text: str, known: tuple[str, ...] | list[str], what: str) -> list[str]:
    found = [n.strip() for n in text.split(",") if n.strip()]
    if unknown := [n for n in found if n not in known]:
        raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown)}; known: {', '.join(known)}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("baseline", help="a checkout of the older revision (e.g. made by git worktree add)")
    parser.add_argument(
        "--zones", type=int, default=0, help="messages-sent as JSON in only the first N of all zones (default: all)"
    )
    parser.add_argument(
        "--endpoints",
        type=lambda t: names(t, tuple(ENDPOINTS), "endpoint"),
        default=list(ENDPOINTS),
        help=f"comma list of {', '.join(ENDPOINTS)} (default: all)",
    )
    parser.add_argument(
        "--matrix-zones",
        type=lambda t: sorted(set(ZONE_NAMES.values())) if t == "all" else names(t, tuple(ZONE_NAMES), "zone"),
        default=list(MATRIX_ZONES),
        help=f"comma list of the zones of the full matrix, 'all', or '' for none (default: {','.join(MATRIX_ZONES)})",
    )
    parser.add_argument(
        "--bots", type=lambda t: names(t, BOTS, "bots choice"), default=list(BOTS), help="default: include,exclude,only"
    )
    parser.add_argument(
        "--formats", type=lambda t: names(t, FORMATS, "format"), default=list(FORMATS), help="default: json,csv"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="requests at a time (default 4)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds for one answer (default 120)")
    parser.add_argument("--show", type=int, default=10, help="print the first N differences in full (default 10)")
    args = parser.parse_args(sys.argv[1:] + shlex.split(os.environ.get("COMPARE_ARGS", "")))
    return asyncio.run(compare(args.baseline, args))


if __name__ == "__main__":
    raise SystemExit(main())
