"""The fair queue: shared work done once, callers taken in turn, background last, a deep queue refused at once."""

from __future__ import annotations

import asyncio
import time

import pytest

from engagement_svc.counting.work import BACKGROUND, CALLER, Busy, Work
from tests.support.http import until


class Recorder:
    """Jobs that record the order they started in. Gated (the default): a job ends only when the test lets one
    more end (`release`), so that what runs when is a matter of the test's steps. Timed (`seconds`): each job
    takes that long, for what is about time itself (the rate a wait is estimated from)."""

    def __init__(self, seconds: float | None = None):
        self.seconds = seconds
        self.ran: list[tuple] = []
        self.permits = asyncio.Semaphore(0)

    async def job(self, keys: list) -> list:
        self.ran.append(tuple(keys))
        if self.seconds is None:
            await self.permits.acquire()
        else:
            await asyncio.sleep(self.seconds)  # the job's duration: what the estimate is measured from
        return keys

    def release(self, jobs: int = 10_000) -> None:
        """Let that many more jobs end (all, by default)."""
        for _ in range(jobs):
            self.permits.release()


def refused_at_once(wait) -> Busy:
    """Run a wait up to the first point where it would wait: it must refuse before it, with Busy."""
    try:
        wait.send(None)
    except Busy as refusal:
        return refusal
    wait.close()
    raise AssertionError("the wait waited instead of refusing at once")


def submit_as(work: Work, owner: str, keys: list, start, chunk: int = 1):
    token = CALLER.set(owner)
    try:
        return work.submit(keys, start, chunk)
    finally:
        CALLER.reset(token)


@pytest.fixture
async def work():
    w = Work(workers=2, job_timeout=30)
    w.start()
    yield w
    for future in w.stop():
        future.cancel()


async def test_one_key_asked_many_times_is_done_once(work):
    recorder = Recorder()
    jobs = [submit_as(work, f"caller{i}", ["k1"], recorder.job, chunk=2) for i in range(10)]
    assert len({id(j) for js in jobs for j in js}) == 1
    recorder.release()
    results = await work.wait(jobs[3], None)
    assert results == [["k1"]] and recorder.ran == [("k1",)]
    assert work.stats["joined"] == 9


async def test_a_callers_keys_are_split_evenly_across_the_workers(work):
    """13 days on 2 workers: 7 + 6 (8 + 5 would keep the answer waiting for the longer job); background work in
    even jobs of at most the chunk; keys keep their order."""
    recorder = Recorder()
    keys = list(range(13))
    asked = submit_as(work, "viewer", keys, recorder.job, chunk=8)
    assert [list(j.keys) for j in asked] == [keys[:7], keys[7:]]
    many = submit_as(work, "viewer", list(range(100, 121)), recorder.job, chunk=8)
    assert [len(j.keys) for j in many] == [6, 5, 5, 5]  # 3 jobs of 8 at most, made 4 for the 2 workers
    warm = submit_as(work, BACKGROUND, list(range(200, 217)), recorder.job, chunk=8)
    assert [len(j.keys) for j in warm] == [6, 6, 5]
    recorder.release()
    await work.wait([*asked, *many, *warm], None)


async def test_a_small_request_is_not_starved_by_another_callers_cold_history(work):
    recorder = Recorder()
    flood = submit_as(work, "admin", [("old", i) for i in range(100)], recorder.job)  # 100 jobs queued
    assert await until(lambda: len(recorder.ran) == 2)  # the flood is running: both workers hold one of its jobs
    small = submit_as(work, "viewer", [("recent", 1)], recorder.job)
    recorder.release(4)  # the two running jobs end, and at most two more
    await asyncio.wait_for(work.wait(small, None), 30)
    position = recorder.ran.index((("recent", 1),))
    # After the jobs running when it came (two workers) and at most one turn of the flood.
    assert position <= 2 + 1, recorder.ran[: position + 1]
    assert not all(j.future.done() for j in flood)  # the flood is still far from done
    recorder.release()
    await work.wait(flood, None)


async def test_background_work_runs_only_when_no_caller_waits(work):
    recorder = Recorder()
    warm = submit_as(work, BACKGROUND, [("warm", i) for i in range(20)], recorder.job)
    assert await until(lambda: len(recorder.ran) == 2)  # both workers hold background work
    asked = submit_as(work, "viewer", [("asked", i) for i in range(4)], recorder.job)
    recorder.release()
    await work.wait(asked, None)
    after = [keys[0][0] for keys in recorder.ran[2:]]
    # Once the caller's jobs are queued, every one of them starts before any more background work.
    assert after[:4] == ["asked"] * 4, after
    await work.wait(warm, None)


async def test_a_caller_joining_background_work_moves_it_up(work):
    recorder = Recorder()
    warm = submit_as(work, BACKGROUND, [("warm", i) for i in range(30)], recorder.job)
    assert await until(lambda: len(recorder.ran) == 2)
    wanted = submit_as(work, "viewer", [("warm", 25)], recorder.job)  # queued as background work: joined
    assert wanted[0] in warm
    recorder.release()
    await work.wait(wanted, None)
    assert recorder.ran.index((("warm", 25),)) <= 2 + 1
    await work.wait(warm, None)


async def test_a_deep_queue_is_refused_at_once_with_an_estimate(work):
    recorder = Recorder(seconds=0.05)
    warmup = submit_as(work, "admin", [("x", i) for i in range(4)], recorder.job)
    await work.wait(warmup, None)  # the rate is measured: about 0.05 s a unit
    flood = submit_as(work, "admin", [("old", i) for i in range(200)], recorder.job)
    mine = submit_as(work, "admin", [("more", i) for i in range(40)], recorder.job)  # behind all of its own
    refused = refused_at_once(work.wait(mine, time.monotonic() + 1.0))
    assert refused.seconds > 1.0 and refused.units_left == 40
    assert not any(j.future.cancelled() for j in mine)  # the counting goes on
    for future in [j.future for j in flood + mine]:
        future.cancel()


async def test_before_anything_is_measured_the_prior_refuses_at_once(work):
    recorder = Recorder()
    work.cost.prior_per_unit = 0.5  # a guess from the data's size: nothing has run yet
    jobs = submit_as(work, "admin", [("old", i) for i in range(40)], recorder.job)
    refused = refused_at_once(work.wait(jobs, time.monotonic() + 1.0))
    assert refused.seconds >= 9.0
    recorder.release()
    await work.wait(jobs, None)  # the counting went on
    assert work.cost.measured and work.cost.seconds(1) < 0.5  # measured now, not the prior


async def test_an_estimate_too_low_is_told_before_the_deadline_not_after(work):
    recorder = Recorder()  # no job ends until the test says so: the wait can only run out
    work.cost.prior_per_unit = 0.001  # far too low: the wait is allowed, then runs out
    jobs = submit_as(work, "admin", [("old", i) for i in range(8)], recorder.job)
    deadline = time.monotonic() + 0.5
    waiting = asyncio.ensure_future(work.wait(jobs, deadline))
    with pytest.raises(Busy) as refused:
        await waiting
    assert time.monotonic() < deadline  # told before the deadline (DEADLINE_MARGIN_S before it), not after
    assert refused.value.units_left == 8 and recorder.ran  # it waited, as the estimate allowed: the jobs ran on
    recorder.release()
    results = await work.wait(jobs, None)  # nothing was cancelled: the counting went on
    assert sorted(k for r in results for k in r) == [("old", i) for i in range(8)]


@pytest.mark.parametrize("bound", [None, 1])
async def test_background_work_runs_on_at_most_its_workers(bound):
    work = Work(workers=2, job_timeout=30, background_workers=bound)
    work.start()
    recorder = Recorder()
    running, most = 0, 0

    async def job(keys: list) -> list:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            return await recorder.job(keys)
        finally:
            running -= 1

    try:
        jobs = submit_as(work, BACKGROUND, [("warm", i) for i in range(10)], job)
        assert await until(lambda: running == (bound or 2))  # as many as it may run hold a job
        for done in range(1, 11):  # then one job ends at a time: another may start in its place, never two
            recorder.release(1)
            assert await until(lambda done=done: running == min(bound or 2, 10 - done))
        await work.wait(jobs, None)
    finally:
        for future in work.stop():
            future.cancel()
    assert most == (bound or 2) and len(recorder.ran) == 10  # both workers by default; one when bounded


async def test_queued_work_is_bounded(work):
    recorder = Recorder()  # jobs that never end: the queue stays full
    small = Work(workers=1, job_timeout=30, max_jobs=50)
    small.start()
    try:
        submit_as(small, "a", [("k", i) for i in range(50)], recorder.job)
        with pytest.raises(Busy):
            submit_as(small, "b", [("k", 99)], recorder.job)
        assert small.stats["refused"] == 1
    finally:
        for future in small.stop():
            future.cancel()


async def test_shared_results_are_reused_for_a_while_then_counted_again():
    work = Work()
    calls = []

    async def count():
        calls.append(1)
        return len(calls)

    assert await work.shared("live", count, keep_seconds=3600) == 1
    assert await work.shared("live", count, keep_seconds=3600) == 1  # reused: within its hour
    assert await work.shared("live", count, keep_seconds=0) == 2  # kept no time at all: counted again
    assert await work.shared("live", count, keep_seconds=0) == 3
