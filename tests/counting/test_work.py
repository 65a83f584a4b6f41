"""The fair queue: shared work done once, callers taken in turn, background last, a deep queue refused at once."""

from __future__ import annotations

import asyncio
import time

import pytest

from engagement_svc.counting.work import BACKGROUND, CALLER, Busy, Work


class Recorder:
    """Jobs that take `seconds` each and record the order they ran in."""

    def __init__(self, seconds: float = 0.02):
        self.seconds = seconds
        self.ran: list[tuple] = []

    async def job(self, keys: list) -> list:
        self.ran.append(tuple(keys))
        await asyncio.sleep(self.seconds)
        return keys


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
    await work.wait([*asked, *many, *warm], None)


async def test_a_small_request_is_not_starved_by_another_callers_cold_history(work):
    recorder = Recorder()
    flood = submit_as(work, "admin", [("old", i) for i in range(100)], recorder.job)  # 100 jobs queued
    await asyncio.sleep(0.05)  # the flood is running
    started_before = len(recorder.ran)
    small = submit_as(work, "viewer", [("recent", 1)], recorder.job)
    await work.wait(small, None)
    position = recorder.ran.index((("recent", 1),))
    # After at most the jobs running when it came (two workers) and one turn of the flood.
    assert position <= started_before + 2, (started_before, recorder.ran[: position + 1])
    assert not all(j.future.done() for j in flood)  # the flood is still far from done
    await work.wait(flood, None)


async def test_background_work_runs_only_when_no_caller_waits(work):
    recorder = Recorder()
    warm = submit_as(work, BACKGROUND, [("warm", i) for i in range(20)], recorder.job)
    await asyncio.sleep(0.03)
    started_before = len(recorder.ran)
    asked = submit_as(work, "viewer", [("asked", i) for i in range(4)], recorder.job)
    await work.wait(asked, None)
    after = [keys[0][0] for keys in recorder.ran[started_before:]]
    # Once the caller's jobs are queued, every one of them starts before any more background work.
    assert after[:4] == ["asked"] * 4, after
    await work.wait(warm, None)


async def test_a_caller_joining_background_work_moves_it_up(work):
    recorder = Recorder(0.05)
    submit_as(work, BACKGROUND, [("warm", i) for i in range(30)], recorder.job)
    await asyncio.sleep(0.02)
    started_before = len(recorder.ran)
    wanted = submit_as(work, "viewer", [("warm", 25)], recorder.job)  # queued as background work: joined
    await work.wait(wanted, None)
    assert recorder.ran.index((("warm", 25),)) <= started_before + 2


async def test_a_deep_queue_is_refused_at_once_with_an_estimate(work):
    recorder = Recorder(0.05)
    warmup = submit_as(work, "admin", [("x", i) for i in range(4)], recorder.job)
    await work.wait(warmup, None)  # the rate is measured: about 0.05 s a unit
    flood = submit_as(work, "admin", [("old", i) for i in range(200)], recorder.job)
    mine = submit_as(work, "admin", [("more", i) for i in range(40)], recorder.job)  # behind all of its own
    began = time.monotonic()
    with pytest.raises(Busy) as refused:
        await work.wait(mine, time.monotonic() + 1.0)
    assert time.monotonic() - began < 0.5  # answered at once, not after the deadline
    assert refused.value.seconds > 1.0 and refused.value.units_left == 40
    assert not any(j.future.cancelled() for j in mine)  # the counting goes on
    for future in [j.future for j in flood + mine]:
        future.cancel()


async def test_before_anything_is_measured_the_prior_refuses_at_once(work):
    recorder = Recorder(0.05)
    work.prior_seconds_per_unit = 0.5  # a guess from the data's size: nothing has run yet
    jobs = submit_as(work, "admin", [("old", i) for i in range(40)], recorder.job)
    began = time.monotonic()
    with pytest.raises(Busy) as refused:
        await work.wait(jobs, time.monotonic() + 1.0)
    assert time.monotonic() - began < 0.2 and refused.value.seconds >= 9.0
    await work.wait(jobs, None)  # the counting went on
    assert work.seconds_per_unit is not None and work.seconds_per_unit < 0.2  # measured, now


async def test_an_estimate_too_low_is_told_before_the_deadline_not_after(work):
    recorder = Recorder(0.3)
    work.prior_seconds_per_unit = 0.001  # far too low: the wait is allowed, then runs out
    jobs = submit_as(work, "admin", [("old", i) for i in range(8)], recorder.job)
    began = time.monotonic()
    with pytest.raises(Busy) as refused:
        await work.wait(jobs, time.monotonic() + 0.5)
    waited = time.monotonic() - began
    assert 0.2 < waited < 0.5, waited  # given up DEADLINE_MARGIN_S before the deadline
    assert refused.value.units_left > 0
    results = await work.wait(jobs, None)  # nothing was cancelled: the counting went on
    assert sorted(k for r in results for k in r) == [("old", i) for i in range(8)]


@pytest.mark.parametrize("bound", [None, 1])
async def test_background_work_runs_on_at_most_its_workers(bound):
    work = Work(workers=2, job_timeout=30, background_workers=bound)
    work.start()
    recorder = Recorder(0.05)
    running: list[int] = []

    async def job(keys: list) -> list:
        running.append(sum(1 for j in work._running if j.owner == BACKGROUND))
        return await recorder.job(keys)

    try:
        await work.wait(submit_as(work, BACKGROUND, [("warm", i) for i in range(10)], job), None)
    finally:
        for future in work.stop():
            future.cancel()
    assert max(running) == (bound or 2) and len(running) == 10  # both workers by default; one when bounded


async def test_queued_work_is_bounded(work):
    recorder = Recorder(1.0)
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

    assert await work.shared("live", count, keep_seconds=0.2) == 1
    assert await work.shared("live", count, keep_seconds=0.2) == 1
    await asyncio.sleep(0.25)
    assert await work.shared("live", count, keep_seconds=0.2) == 2
