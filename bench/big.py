"""`python -m bench.big` (`make bench-big`): the big-server run. Asserts nothing.

Dataset: bench/big_dataset.py (20,000,000 messages, 100,000 users, 50,000 rooms, 5,000,000 logins over 730 days by
default), kept in bench/data under its own database name and made (or continued) on first use.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.big", description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rooms", type=int, default=50_000)
    parser.add_argument("--logins", type=int, default=5_000_000, help="logins (copies and sums come on top)")
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--cache-gb", type=float, default=6.0, help="the embedded mongod's WiredTiger cache")
    parser.add_argument("--database", default=None, help="default: engagement_bench_big_<messages>_<rooms>_<days>")
    parser.add_argument("--output", default="bench/results/big.json")
    parser.add_argument("--generate-only", action="store_true", help="make the dataset, measure nothing")
    return parser


def run(args: argparse.Namespace) -> int:
    from pymongo import MongoClient

    from bench.big_dataset import existing_anchor, generate
    from engagement_svc.demo.embedded import EmbeddedMongo

    args.progress = lambda text: print(text, flush=True)
    args.database = args.database or f"engagement_bench_big_{args.messages}_{args.rooms}_{args.days}"
    mongo = EmbeddedMongo(cache_gb=args.cache_gb, data_dir=str(Path("bench/data").resolve()))
    mongo.start(timeout=300)
    client: MongoClient = MongoClient(mongo.url, tz_aware=True)
    try:
        db = client[args.database]
        shape = (args.messages, args.users, args.rooms, args.logins, args.days)
        anchor = existing_anchor(db, *shape)
        if anchor is None:
            args.progress(
                f"generating {args.messages:,} messages in {args.rooms:,} rooms, {args.users:,} users and "
                f"{args.logins:,} logins over {args.days} days into {args.database}"
            )
            anchor = generate(db, mongo.url, *shape, args.progress)
        meta = db.engagement_bench_meta.find_one({"_id": "big-dataset"}) or {}
        args.progress(f"dataset ready (anchor {anchor.isoformat()}, made in {meta.get('seconds', 0):.0f} s)")
        if args.generate_only:
            return 0
        raise SystemExit("measuring is not written yet")
    finally:
        client.close()
        mongo.stop()


if __name__ == "__main__":
    raise SystemExit(run(build_parser().parse_args()))
