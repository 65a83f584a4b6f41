"""Whether MongoDB is known to be down, from what PyMongo's own server monitors see, so that a request can be
answered 503 at once, with the reason, instead of waiting its whole time limit for a server that is not there.

"Down" means that no server of the deployment is reachable: every one is unknown after a failed check. An
election (a primary gone, secondaries still answering) is not down: requests wait for the new primary as before.
While down, the database is pinged once a second, which makes PyMongo's monitor check again at once (it would
otherwise wait its heartbeat interval of 10 s): the service answers again within about a second of MongoDB's
return. That ping runs only while down (besides it, only what requests start: Rocket.Chat's settings are read
again at most once a second).
"""

from __future__ import annotations

import asyncio
import errno
import logging

import pymongo
from pymongo import monitoring
from pymongo.errors import NetworkTimeout, PyMongoError

from engagement_svc.mongo_errors import AUTHENTICATION_FAILED
from engagement_svc.mongo_types import Client

log = logging.getLogger("engagement_svc")
PROBE_EVERY_S = 1  # whole seconds: also the Retry-After of a known-down 503
REASONS = {
    "refused": "MongoDB refused the connection",
    "timeout": "MongoDB did not answer",
    "unreachable": "MongoDB cannot be reached",
}


def _reason(error: BaseException | None) -> str:
    """A failed check's cause in a word (never the driver's text, which may name hosts and users)."""
    text = str(error)
    if "Connection refused" in text or f"[Errno {errno.ECONNREFUSED}]" in text:
        return "refused"
    if isinstance(error, NetworkTimeout) or "timed out" in text:
        return "timeout"
    return "unreachable"


def _refused_credentials(error: BaseException | None) -> bool:
    return getattr(error, "code", None) == AUTHENTICATION_FAILED or "Authentication failed" in str(error)


class DatabaseHealth(monitoring.ServerHeartbeatListener, monitoring.TopologyListener):
    """A listener for a client's monitors (pass it in `event_listeners`); `down` is None or the reason."""

    def __init__(self) -> None:
        self._down: str | None = None
        self._last_failure = "unreachable"
        self._went_down = asyncio.Event()

    @property
    def down(self) -> str | None:
        """None while a server is reachable; else a word for why not (a key of REASONS)."""
        return self._down

    def explain(self) -> str:
        return REASONS.get(self._down or "", "MongoDB is available")

    # ServerHeartbeatListener: what each check found
    def started(self, event: monitoring.ServerHeartbeatStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.ServerHeartbeatSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.ServerHeartbeatFailedEvent) -> None:
        self._last_failure = _reason(event.reply)

    # TopologyListener: what the client concluded from them
    def opened(self, event: monitoring.TopologyOpenedEvent) -> None:
        pass

    def description_changed(self, event: monitoring.TopologyDescriptionChangedEvent) -> None:
        servers = event.new_description.server_descriptions().values()
        # A server that refused the service's credentials answered: not down. Requests then say what it refused
        # (a 503 naming the credentials, as /readyz does), not that MongoDB cannot be reached.
        reachable = any(s.is_server_type_known or _refused_credentials(s.error) for s in servers)
        checked = all(s.error is not None for s in servers)  # unknown because a check failed, not not-yet-checked
        if reachable or not servers:
            if self._down is not None:
                log.info("database reachable again: answering requests")
            self._down = None
        elif checked:
            if self._down is None:  # once per outage: the requests answered 503 meanwhile log nothing each
                log.warning(
                    "database down (%s): every request is answered 503 until it returns", REASONS[self._last_failure]
                )
            self._down = self._last_failure
            self._went_down.set()

    def closed(self, event: monitoring.TopologyClosedEvent) -> None:
        pass

    async def probe_while_down(self, client: Client) -> None:
        """Runs as long as the client: while down, a ping a second (see the module's docstring)."""
        while True:
            await self._went_down.wait()
            self._went_down.clear()
            while self._down is not None:
                try:
                    with pymongo.timeout(PROBE_EVERY_S):
                        await client.admin.command("ping")
                except PyMongoError:
                    pass
                await asyncio.sleep(PROBE_EVERY_S)
