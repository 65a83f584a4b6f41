"""Freed memory goes back to the system after a request's peak: measured in this process's own resident memory."""

from __future__ import annotations

import mmap

from engagement_svc.memory import Releaser, resident_bytes

MB = 2**20


def fragmented_peak(total: int) -> list[bytes]:
    """`total` bytes of 4 KiB blocks (from the C heap, not mapped apart), all freed but one in 64: the freed ones
    stay in the heap between survivors, where the C library keeps them until asked to release them."""
    blocks = [bytes(4096) for _ in range(total // 4096)]
    return blocks[::64]


def test_resident_bytes_grows_with_what_the_process_holds():
    before = resident_bytes()
    assert before is not None and before > 0
    held = mmap.mmap(-1, 64 * MB)  # fresh pages (freed heap the process already holds would not grow it)
    held.write(b"x" * (64 * MB))
    after = resident_bytes()
    assert after is not None and after >= before + 60 * MB
    held.close()


async def test_a_peak_left_behind_is_released_at_the_end_of_the_request():
    releaser = Releaser(step=64 * MB)
    assert releaser.after_request() is None  # nothing grew
    survivors = fragmented_peak(512 * MB)
    grown = resident_bytes()
    assert grown is not None
    task = releaser.after_request()
    assert task is not None
    await task
    released = resident_bytes()
    assert released is not None and released < grown - 256 * MB, (grown // MB, released // MB)
    assert releaser.releases == 1
    assert releaser.after_request() is None  # the step counts from the release: no second one for the same peak
    await releaser.stop()
    del survivors


async def test_growth_below_the_step_releases_nothing_and_one_release_runs_at_a_time():
    releaser = Releaser(step=256 * MB)
    survivors = fragmented_peak(64 * MB)
    assert releaser.after_request() is None
    more = fragmented_peak(512 * MB)
    first = releaser.after_request()
    assert first is not None
    assert releaser.after_request() is None  # not a second while the first runs
    await first
    await releaser.stop()
    assert releaser.releases == 1
    del survivors, more
