"""`python -m bench.flood [--baseline DIR]`: the hostile-input probe's reproductions, as figures. Asserts nothing.

On the demo dataset (about 50,000 messages over 240 days) in an embedded mongod, for this checkout and, with
--baseline, for an older revision's code (a git worktree), each as a real `engagement-svc serve`:
1. a non-UTF-8 byte in X-User-Id, and in X-Auth-Token with a real id: the status;
2. Accounts_LoginExpiration of 1e9: the status of a signed-in request;
3. the 40-zone flood: 40 zones x a 732-day range; RSS and state documents before and after, reads of
   rocketchat_message during the flood, then the index counts sent in the minute after one deletion and in a
   quiet minute;
4. fairness: one admin sends 30 cold 732-day requests in new zones while another user asks for 7 days in the
   default zone: that request's status and time;
5. smaller: user lookups per repeated 401, the parser's answer to a bad header, Server and Cache-Control headers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import aiohttp
from pymongo import MongoClient

from bench.run import Server, code_of, memory_mb
from engagement_svc.days import ZONE_NAMES, iso_z
from engagement_svc.demo.dataset import login_token, seed_demo, user_doc
from engagement_svc.demo.embedded import EmbeddedMongo, free_port
from engagement_svc.reports import messages_sent

VIEWER = {"X-User-Id": "ViewerUserId00001", "X-Auth-Token": "viewer-token"}


async def raw(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(65536), 10)
    finally:
        writer.close()


def operations(db, since: datetime, kinds: tuple[str, ...]) -> int:
    """Commands the profiler saw on rocketchat_message since then (the change stream's own reads left out)."""
    n = 0
    for op in db.system.profile.find({"ns": f"{db.name}.rocketchat_message", "ts": {"$gte": since}}):
        command = op.get("command") or {}
        origin = op.get("originatingCommand") or command
        if "$changeStream" in str(origin.get("pipeline", "")):
            continue
        if next(iter(command), "") in kinds:
            n += 1
    return n


async def probe(name: str, code: dict, mongo: EmbeddedMongo, creds, now: datetime) -> dict:
    sync: MongoClient = MongoClient(mongo.url, tz_aware=True)
    db = sync.rocketchat
    sync.drop_database(f"state_{name}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGO_URL", "ENGAGEMENT_", "PYTHONPATH"))}
    env |= {
        "MONGO_URL": mongo.url_for("rocketchat"),
        "ENGAGEMENT_STATE_MONGO_URL": mongo.url_for(f"state_{name}"),
        "ENGAGEMENT_RATE_LIMIT_CALLS": "0",
        "ENGAGEMENT_WARM_DAYS": "0",
        "ENGAGEMENT_SWEEP_SECONDS": "30",
        "ENGAGEMENT_QUERY_TIMEOUT_MS": "10000",
        "ENGAGEMENT_LOG_LEVEL": "WARNING",
    }
    port = free_port()
    server = Server([sys.executable, "-m", "engagement_svc", "serve", "--port", str(port)], env, port, code)
    admin = {"X-User-Id": creds.admin_id, "X-Auth-Token": creds.admin_token}
    base = f"http://127.0.0.1:{port}{messages_sent.REPORT.path}"
    longest = {"start": iso_z(now - timedelta(days=731)), "end": iso_z(now - timedelta(days=1))}
    zones = sorted(set(ZONE_NAMES.values()))
    out: dict = {}
    try:
        async with aiohttp.ClientSession() as session:
            await server.ready(session)

            async def get(params: dict, headers: dict) -> tuple[int, float]:
                began = time.perf_counter()
                async with session.get(f"{base}?{urlencode(params)}", headers=headers) as response:
                    await response.read()
                    return response.status, time.perf_counter() - began

            # 1 and 2
            query = urlencode({"start": longest["start"], "end": longest["end"]}).encode()
            statuses = []
            for uid, token in ((b"caf\xe9", b"x"), (creds.admin_id.encode(), b"\xff")):
                answer = await raw(
                    port,
                    b"GET " + messages_sent.REPORT.path.encode() + b"?" + query + b" HTTP/1.1\r\nHost: x\r\n"
                    b"X-User-Id: " + uid + b"\r\nX-Auth-Token: " + token + b"\r\nConnection: close\r\n\r\n",
                )
                statuses.append(int(answer.split(b" ", 2)[1]))
            out["1_non_utf8_credentials_status"] = statuses
            db.rocketchat_settings.update_one({"_id": "Accounts_LoginExpiration"}, {"$set": {"value": 1e9}})
            await asyncio.sleep(1.2)
            out["2_login_expiration_1e9_status"] = (
                await get({"start": longest["start"], "end": longest["end"]}, admin)
            )[0]
            db.rocketchat_settings.update_one({"_id": "Accounts_LoginExpiration"}, {"$set": {"value": 90}})
            await asyncio.sleep(1.2)

            # 4: fairness, cold (before the flood has counted anything)
            async def viewer_request() -> tuple[int, float]:
                await asyncio.sleep(0.5)
                week = {"start": iso_z(now - timedelta(days=6)), "end": iso_z(now)}
                return await get(week, VIEWER)

            cold = [get(longest | {"timezone": z}, admin) for z in zones[200:230]]
            (viewer_status, viewer_s), *cold_answers = await asyncio.gather(viewer_request(), *cold)
            out["4_fairness"] = {
                "viewer_7_day_status": viewer_status,
                "viewer_7_day_ms": round(viewer_s * 1000, 1),
                "flood_statuses": sorted({s for s, _ in cold_answers}),
                "flood_slowest_ms": round(max(t for _, t in cold_answers) * 1000),
            }

            # 3: the 40-zone flood
            rss_before = memory_mb(server.process.pid, "VmRSS")
            state_before = sync[f"state_{name}"].command("dbStats")["objects"]
            db.command("profile", 2)
            began = datetime.now(UTC)
            flood_began = time.perf_counter()
            answers = await asyncio.gather(*(get(longest | {"timezone": z}, admin) for z in zones[::8][:40]))
            flood_s = time.perf_counter() - flood_began
            during = operations(db, began, ("aggregate", "count"))
            await asyncio.sleep(2)
            rss_after = memory_mb(server.process.pid, "VmRSS")
            state_after = sync[f"state_{name}"].command("dbStats")["objects"]
            out["3_flood"] = {
                "statuses": sorted({s for s, _ in answers}),
                "seconds": round(flood_s, 1),
                "rss_mb_before": rss_before,
                "rss_mb_after": rss_after,
                "state_documents_before": state_before,
                "state_documents_after": state_after,
                "rocketchat_message_reads_during": during,
            }
            victim = db.rocketchat_message.find_one({"ts": {"$lt": now - timedelta(days=30)}}) or {}
            db.rocketchat_message.delete_one({"_id": victim.get("_id")})
            deleted_at = datetime.now(UTC)
            await asyncio.sleep(60)
            out["3_flood"]["counts_in_the_minute_after_one_deletion"] = operations(
                db, deleted_at, ("aggregate", "count")
            )
            quiet_from = datetime.now(UTC)
            await asyncio.sleep(60)
            out["3_flood"]["counts_in_a_quiet_minute"] = operations(db, quiet_from, ("aggregate", "count"))
            db.command("profile", 0)

            # 5
            db.command("profile", 2)
            began = datetime.now(UTC)
            for _ in range(20):
                await get({"start": longest["start"], "end": longest["end"]}, {**admin, "X-Auth-Token": "wrong"})
            lookups = sum(1 for _ in db.system.profile.find({"ns": f"{db.name}.users", "ts": {"$gte": began}}))
            db.command("profile", 0)
            bad_header = await raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad\x01: secret\r\n\r\n")
            async with session.get(f"{base}?{urlencode(longest)}", headers=admin) as response:
                headers = dict(response.headers)
            out["5_smaller"] = {
                "users_lookups_for_20_repeated_401s": lookups,
                "bad_header_answer": bad_header.split(b"\r\n\r\n", 1)[-1][:80].decode("latin-1"),
                "bad_header_content_type": next(
                    (
                        line.split(b":", 1)[1].strip().decode()
                        for line in bad_header.split(b"\r\n")
                        if line.lower().startswith(b"content-type")
                    ),
                    "",
                ),
                "server_header": headers.get("Server"),
                "cache_control": headers.get("Cache-Control"),
            }
    finally:
        server.stop()
        sync.drop_database(f"state_{name}")
        sync.close()
    return out


async def main(baseline: str) -> dict:
    with EmbeddedMongo(cache_gb=1) as mongo:
        now = datetime.now(UTC)
        client: MongoClient = MongoClient(mongo.url, tz_aware=True)
        creds = seed_demo(client.rocketchat, now=now)
        client.rocketchat.users.insert_one(
            user_doc("ViewerUserId00001", "viewer", ["admin"], [login_token("viewer-token", now)])
        )
        client.close()
        results = {}
        if baseline:
            results["before"] = await probe("before", code_of(baseline), mongo, creds, now)
            print("before:", json.dumps(results["before"], indent=1), flush=True)
        results["after"] = await probe("after", {}, mongo, creds, now)
        print("after:", json.dumps(results["after"], indent=1), flush=True)
        return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m bench.flood", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", default="", help="a checkout of an older revision to probe as well")
    parser.add_argument("--output", default="bench/results/flood.json")
    args = parser.parse_args()
    figures = asyncio.run(main(args.baseline))
    with open(args.output, "w") as f:
        json.dump(figures, f, indent=2)
        f.write("\n")
