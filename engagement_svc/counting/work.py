"""Work that requests share, done once: the engine's one single-flight mechanism, with a fair queue.

Every piece of counting has a key. A key asked for while its work is queued or running joins it; a finished
result may be kept for a while (`keep_seconds`) and handed to later askers. Queued work (counting closed days)
runs on a fixed number of workers, taken round-robin across callers, so one caller's cold history never starves
another's small request; background work (the backfill) runs only when no caller waits, on at most
`background_workers` at once (all by default: the engine keeps its background jobs short instead, so that a
request's counting waits at most for what is running, a few seconds). A caller that
would wait longer than its deadline is told so at once (`Busy`), with an estimate, and the work goes on.

Bounds: at most `max_jobs` pieces of work queued or kept at once (more is refused with `Busy`); each piece runs
at most `job_timeout` seconds.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from engagement_svc.counting.job_cost import JobCost
from engagement_svc.tasks import background, cancelled

log = logging.getLogger("engagement_svc.work")

BACKGROUND = ""  # the owner of work no caller asked for
CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default=BACKGROUND)
DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)  # monotonic
DEADLINE_MARGIN_S = 0.25  # a wait gives up this long before its deadline, to answer in time
K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class Busy(Exception):
    """The work a request needs cannot be done within its deadline (or is refused: too much is queued)."""

    def __init__(self, seconds: float, units_left: int):
        super().__init__(f"about {seconds:.0f} s of counting ahead ({units_left} days)")
        self.seconds = seconds
        self.units_left = units_left


@dataclass(eq=False)
class Job:
    """One piece of work. Its result is whatever `start` returns: the table of jobs holds every kind at once (the
    key says which), so it is Any here; `shared` hands its caller the type its `start` returns."""

    keys: tuple[Hashable, ...]
    start: Callable[[], Coroutine[Any, Any, Any]]
    units: int  # a size estimate (days counted), for the wait estimate
    owner: str
    future: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    finished_at: float = 0.0
    started: bool = False


# A counting job, or a background read (the first source read, the oldest document, a sweep's counts), that takes
# longer is abandoned and retried later.
BACKGROUND_TIMEOUT_S = 600.0


class Work:
    def __init__(
        self,
        workers: int = 2,
        job_timeout: float = BACKGROUND_TIMEOUT_S,
        max_jobs: int = 4096,
        background_workers: int | None = None,
    ):
        self.workers = workers
        self.background_workers = workers if background_workers is None else max(1, min(workers, background_workers))
        self.job_timeout = job_timeout
        self.max_jobs = max_jobs
        self._jobs: dict[Hashable, Job] = {}
        self._queues: dict[str, deque[Job]] = {}  # owner -> its queued jobs, oldest first
        self._turns: deque[str] = deque()  # callers with queued jobs, in round-robin order
        self._running: set[Job] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.cost = JobCost()  # how long a job takes: measured, or guessed from the data's size
        self.stopping = False
        self.stats = {"jobs_run": 0, "units_run": 0, "refused": 0, "joined": 0}

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._tasks = [background(self._worker(), f"worker-{i}") for i in range(self.workers)]

    def stop(self) -> list[asyncio.Future[Any]]:
        """No more work is taken; the workers and everything queued or running are returned, to be cancelled
        (after the clients close, so that no read is cancelled inside the driver's server selection)."""
        self.stopping = True
        self._wake.set()
        futures: list[asyncio.Future[Any]] = [*self._tasks]
        futures += [f for f in {id(j.future): j.future for j in self._jobs.values()}.values() if not f.done()]
        return futures

    @property
    def queued_units(self) -> int:
        return sum(j.units for q in self._queues.values() for j in q)

    # -- shared work that runs at once ---------------------------------------------------------------------------
    def shared(
        self, key: Hashable, start: Callable[[], Coroutine[Any, Any, T]], keep_seconds: float = 0.0
    ) -> asyncio.Future[T]:
        """Run `start()` now unless the same key runs already (or finished less than `keep_seconds` ago)."""
        self._prune()
        job = self._jobs.get(key)
        if job is not None and job.future.done():
            failed = job.future.cancelled() or job.future.exception() is not None
            if failed or time.monotonic() - job.finished_at > keep_seconds:
                del self._jobs[key]
                job = None
        if job is None:
            if len(self._jobs) >= self.max_jobs:
                self.stats["refused"] += 1
                raise Busy(0.0, 0)
            task = background(start(), f"shared {key}")
            job = Job((key,), start, 0, CALLER.get(), future=task, started=True)
            self._jobs[key] = job
            task.add_done_callback(functools.partial(self._finished, job, keep_seconds > 0))
        return job.future

    # -- queued work ---------------------------------------------------------------------------------------------
    def submit(self, keys: list[K], start: Callable[[list[K]], Coroutine[Any, Any, object]], chunk: int) -> list[Job]:
        """Jobs that cover all these keys (e.g. days): the queued or running ones that hold some of them are
        joined, the rest is queued for the current caller in jobs of at most `chunk` keys, `start(keys)` each.
        Background work a caller joins moves up to the caller's queue. Raises Busy when too much is queued."""
        owner = CALLER.get()
        jobs: dict[int, Job] = {}
        todo: list[K] = []
        for key in keys:
            job = self._jobs.get(key)
            if job is not None and not job.future.done():
                if id(job) not in jobs:
                    self.stats["joined"] += 1
                    if job.owner == BACKGROUND and owner != BACKGROUND and not job.started:
                        self._queues[BACKGROUND].remove(job)
                        job.owner = owner
                        self._enqueue(job)
                jobs[id(job)] = job
            else:
                todo.append(key)
        if todo and len(self._jobs) + len(todo) > self.max_jobs:
            self.stats["refused"] += 1
            raise Busy(self.estimate([]), self.queued_units + len(todo))
        for part in self._parts(todo, chunk, owner):
            job = Job(tuple(part), functools.partial(start, part), len(part), owner)
            job.future.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved, never "unretrieved"
            for key in part:
                self._jobs[key] = job
            self._enqueue(job)
            jobs[id(job)] = job
        return list(jobs.values())

    def _parts(self, keys: list[K], chunk: int, owner: str) -> list[list[K]]:
        """The keys in order, in jobs of at most `chunk`, of even sizes; a caller's in a multiple of the workers
        (13 days on 2 workers: 7 + 6, not 8 + 5, whose longer job the answer would wait for)."""
        if not keys:
            return []
        parts = -(-len(keys) // chunk)
        if owner != BACKGROUND and len(keys) >= self.workers:
            parts = -(-parts // self.workers) * self.workers
        size, extra = divmod(len(keys), parts)
        out: list[list[K]] = []
        at = 0
        for i in range(parts):
            end = at + size + (i < extra)
            out.append(keys[at:end])
            at = end
        return out

    def _enqueue(self, job: Job) -> None:
        queue = self._queues.setdefault(job.owner, deque())
        queue.append(job)
        if job.owner != BACKGROUND and job.owner not in self._turns:
            self._turns.append(job.owner)
        self._wake.set()

    def _next(self) -> Job | None:
        """The next caller's job, round-robin; else background work, on at most `background_workers` at once
        (the other workers stay free for the next request)."""
        while self._turns:
            owner = self._turns.popleft()
            queue = self._queues.get(owner)
            if queue:
                job = queue.popleft()
                if queue:
                    self._turns.append(owner)
                else:
                    del self._queues[owner]
                return job
            self._queues.pop(owner, None)
        queue = self._queues.get(BACKGROUND)
        if queue and sum(1 for j in self._running if j.owner == BACKGROUND) < self.background_workers:
            return queue.popleft()
        return None

    async def _worker(self) -> None:
        while not self.stopping and not cancelled():
            job = self._next()
            if job is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            job.started = True
            self._running.add(job)
            began = time.monotonic()
            try:
                async with asyncio.timeout(self.job_timeout):
                    result = await job.start()
            except asyncio.CancelledError:
                if not job.future.done():
                    job.future.cancel()
                raise
            except Exception as exc:  # noqa: BLE001 - handed to whoever waits for it
                if not job.future.done():
                    job.future.set_exception(exc)
            else:
                if not job.future.done():
                    job.future.set_result(result)
                if job.units:
                    self.cost.add(job.units, time.monotonic() - began)
                self.stats["jobs_run"] += 1
                self.stats["units_run"] += job.units
            finally:
                self._running.discard(job)
                self._done(job, keep=False)

    def _finished(self, job: Job, keep: bool, _future: asyncio.Future[Any]) -> None:
        self._done(job, keep)

    def _done(self, job: Job, keep: bool) -> None:
        job.finished_at = time.monotonic()
        if not keep:
            for key in job.keys:
                if self._jobs.get(key) is job:
                    del self._jobs[key]

    def _prune(self) -> None:
        if len(self._jobs) > self.max_jobs // 2:
            now = time.monotonic()
            for key, job in list(self._jobs.items()):
                if job.future.done() and now - job.finished_at > 60:
                    del self._jobs[key]

    # -- waiting -------------------------------------------------------------------------------------------------
    def estimate(self, jobs: Iterable[Job]) -> float:
        """Seconds until all these jobs are done, in the order the workers will take them (0 if not known)."""
        if self.cost.parts() is None:
            return 0.0
        mine = {id(j) for j in jobs if not j.started}
        seconds = sum(self.cost.seconds(j.units) for j in self._running) / 2  # on average half done
        if mine:
            queues = {owner: list(q) for owner, q in self._queues.items()}
            order = [*self._turns, BACKGROUND]
            left = len(mine)
            while left and any(queues.get(o) for o in order):
                for owner in order:
                    if owner == BACKGROUND and any(queues.get(o) for o in order[:-1]):
                        continue
                    queue = queues.get(owner)
                    if queue:
                        job = queue.pop(0)
                        seconds += self.cost.seconds(job.units)
                        if id(job) in mine:
                            left -= 1
                            if not left:
                                break
        return seconds / max(self.workers, 1)

    async def wait(self, jobs: list[Job], deadline: float | None) -> list[object]:
        """The jobs' results. If the estimate says they cannot all be done before `deadline` (a monotonic time),
        raise Busy at once; the jobs stay queued, so asking again later finds them done."""
        pending = [j for j in jobs if not j.future.done()]
        if pending and deadline is not None:
            seconds = self.estimate(pending)
            if seconds > deadline - time.monotonic():
                self.stats["refused"] += 1
                raise Busy(seconds, sum(j.units for j in pending))
        # Shielded: a caller that gives up leaves the work running for the next one. One whose estimate was too
        # low is told so just before its deadline, the same way, rather than timing out.
        results: list[object] = []
        for job in jobs:
            left = None if deadline is None else deadline - DEADLINE_MARGIN_S - time.monotonic()
            try:
                results.append(await asyncio.wait_for(asyncio.shield(job.future), left))
            except TimeoutError:
                if job.future.done():
                    raise  # the job itself timed out
                late = [j for j in jobs if not j.future.done()]
                self.stats["refused"] += 1
                raise Busy(max(self.estimate(late), 1.0), sum(j.units for j in late)) from None
        return results
