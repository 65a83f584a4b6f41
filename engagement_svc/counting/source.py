"""The Rocket.Chat database counted: its identity (the key of every kept count) and the sets its rules name.

Both are read once before the first count, with the state database tidied: a bot user added while the service was
stopped must not leave kept days counted with the old set.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

import pymongo

from engagement_svc.counting import counter
from engagement_svc.counting.catalog import PARAM_SOURCES, Metric
from engagement_svc.counting.store import StateStore, source_id
from engagement_svc.counting.work import BACKGROUND_TIMEOUT_S, Work
from engagement_svc.mongo_types import Database

log = logging.getLogger("engagement_svc.engine")

# Told the source, a set's name and the ids that joined or left it, before the new set is saved.
OnSetChanged = Callable[[str, str, list[str]], Awaitable[None]]


class Source:
    def __init__(
        self, db: Database, store: StateStore, work: Work, metrics: Mapping[str, Metric], on_set_changed: OnSetChanged
    ):
        self.db, self.store = db, store
        self._work = work
        self._uses_params = any(m.uses_params for m in metrics.values())
        self._on_set_changed = on_set_changed
        self._id: str | None = None
        self._ready = False
        self.params: dict[str, frozenset[str]] = {}  # the sets rules name (bot users), as last read

    async def id(self) -> str:
        """The source's identity, once the state database is tidied and the rules' sets are read (the first thing
        every count needs)."""
        if not self._ready:
            await self._work.shared(("source",), self._first_read)
        assert self._id is not None
        return self._id

    def known_id(self) -> str:
        """The identity while the first read is still going on (a recount it asks for needs it)."""
        assert self._id is not None, "the source is read first"
        return self._id

    async def _first_read(self) -> None:
        with pymongo.timeout(BACKGROUND_TIMEOUT_S):
            self._id = await source_id(self.db)
            await self.store.retire_old_collections()
            await self.store.prepare()
            if self._uses_params:
                for name in PARAM_SOURCES:
                    await self._read_param(name, await self.store.load_param(self._id, name))
            self._ready = True

    async def refresh_params(self) -> None:
        """Read every rule's set again (its collection changed)."""
        if not self._ready:
            return  # nothing counted yet: the first count reads them
        for name in PARAM_SOURCES:
            await self._read_param(name, self.params.get(name))

    async def _read_param(self, name: str, before: frozenset[str] | None) -> None:
        """Read a rule's set afresh; where it differs from `before` (what the kept counts were made with), the
        change is told before the new set is saved, so that a crash in between recounts again."""
        assert self._id is not None
        param = PARAM_SOURCES[name]
        current = await counter.param_values(self.db, param.collection, param.rule)
        self.params[name] = current
        if before is not None and before != current:
            changed = sorted(before ^ current)
            await self._on_set_changed(self._id, name, changed)
            log.info("%s changed (%d ids); the days they touch are counted again", name, len(changed))
        if before != current:
            await self.store.save_param(self._id, name, current)
