"""A three-member replica set on loopback, for the tests that need elections or secondaries."""

from __future__ import annotations

from pymongo import MongoClient

from engagement_svc.demo.embedded import EmbeddedMongo


class ReplicaSet:
    """Three mongod processes on loopback forming one replica set, with quick elections."""

    def __init__(self, name: str = "rsfault"):
        self.members = [EmbeddedMongo(cache_gb=0.25, replica_set=name, initiate=False) for _ in range(3)]
        self.name = name

    def __enter__(self) -> ReplicaSet:
        for member in self.members:
            member.start()
        admin = MongoClient(self.members[0].url)
        admin.admin.command(
            "replSetInitiate",
            {
                "_id": self.name,
                "members": [{"_id": i, "host": f"127.0.0.1:{m.port}"} for i, m in enumerate(self.members)],
                "settings": {"electionTimeoutMillis": 2000, "heartbeatIntervalMillis": 500},
            },
        )
        admin.close()
        client = MongoClient(self.url("admin"), serverSelectionTimeoutMS=60_000)
        client.admin.command("ping")  # a primary is elected
        client.close()
        return self

    def url(self, database: str, **options: str) -> str:
        hosts = ",".join(f"127.0.0.1:{m.port}" for m in self.members)
        extra = "".join(f"&{k}={v}" for k, v in options.items())
        return f"mongodb://{hosts}/{database}?replicaSet={self.name}{extra}"

    def __exit__(self, *exc) -> None:
        for member in self.members:  # the data is thrown away: no orderly hand-over between members (15 s each)
            member.kill()
            member.stop()
