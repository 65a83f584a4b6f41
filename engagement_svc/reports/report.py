"""A dashboard endpoint as one object: its path, its parameters, and how its JSON and CSV answers are made.

Each endpoint is one module of this package defining `REPORT`; api/routes.py serves the list of them, through the
one pipeline of checks (api/pipeline.py), and api/openapi.json describes each with the same parameters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Generic

from engagement_svc.reports.csv import Lines, Table
from engagement_svc.reports.queries import Params, Q
from engagement_svc.reports.sources import Key, Sources

DASHBOARD = "/api/v1/engagement-dashboard"  # Rocket.Chat's prefix of the dashboard's endpoints

Body = str | Iterator[str]  # a 200's JSON: the text, or its pieces when it is too long to hold whole


@dataclass(frozen=True)
class Report(Generic[Q]):
    path: str  # the URL path, under DASHBOARD
    summary: str  # what the answer holds, in one line (`engagement-svc --help` lists it)
    params: Params[Q]  # the query parameters it reads, and how
    json: Callable[[Sources, Q], Awaitable[Body]]  # the 200's JSON
    # The CSV's rows as quoted lines. Everything that can fail is read before they are returned (a failure then is
    # still a 503): only a stream too long to hold (the channel list's rooms) reads as it is written.
    csv: Callable[[Sources, Q], Awaitable[Lines]]
    csv_name: str  # the download's name, before the query's days (see RangeQuery.filename)
    csv_header: tuple[str, ...]

    def key(self, q: Q, *part: str) -> Key:
        """The key of an answer (or `part` of one) to `q` remembered by the engine, unique among reports."""
        return (self.path, *part, *q.key())

    async def table(self, sources: Sources, q: Q) -> Table:
        """The CSV answer: its download name, header and rows."""
        return Table(q.filename(self.csv_name), list(self.csv_header), await self.csv(sources, q))
