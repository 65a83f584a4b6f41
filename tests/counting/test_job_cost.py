"""The cost of a counting job: a fixed part and a part per unit, fitted to the jobs measured; a short job's time is
not taken as every day's cost."""

from __future__ import annotations

import pytest

from engagement_svc.counting.job_cost import JobCost


def cost_of(jobs, prior=None) -> JobCost:
    cost = JobCost()
    cost.prior_per_unit = prior
    for units, seconds in jobs:
        cost.add(units, seconds)
    return cost


def test_nothing_known_is_no_estimate_and_the_prior_is_all_per_unit():
    assert JobCost().parts() is None and JobCost().seconds(100, 10) == 0.0
    guessed = cost_of([], prior=0.01)
    assert not guessed.measured and guessed.parts() == (0.0, 0.01) and guessed.seconds(100, 13) == pytest.approx(1.0)


def test_jobs_of_several_sizes_give_the_fixed_and_the_per_unit_part():
    cost = cost_of([(units, 0.02 + 0.1 * units) for units in (2, 8, 1, 8, 5, 8, 3)])
    fixed, per_unit = cost.parts()
    assert fixed == pytest.approx(0.02) and per_unit == pytest.approx(0.1)
    assert cost.seconds(80, jobs=10) == pytest.approx(10 * 0.02 + 80 * 0.1)


def test_short_jobs_of_sparse_days_are_not_read_as_the_cost_of_every_day():
    """Two-day jobs of 18 ms on a server of few documents a day (the prior per day tiny): a request of 1,065 days
    in 134 jobs costs about 134 x 18 ms, not 1,065 x 9 ms."""
    cost = cost_of([(2, 0.018), (2, 0.018)], prior=1e-7)
    assert cost.measured
    assert cost.seconds(1065, jobs=134) == pytest.approx(134 * 0.018, rel=0.01)


def test_short_jobs_of_dense_days_keep_the_per_unit_part_of_the_prior():
    cost = cost_of([(2, 2.1), (2, 2.1)], prior=1.0)  # about a second a day, as the data's size said
    assert cost.parts() == pytest.approx((0.1, 1.0))
    assert cost.seconds(8) == pytest.approx(8.1)


def test_without_a_prior_jobs_of_one_size_are_all_per_unit():
    cost = cost_of([(4, 0.4), (4, 0.4)])
    assert cost.parts() == pytest.approx((0.0, 0.1))


def test_older_jobs_weigh_less():
    """The days got denser: the fit follows the recent jobs."""
    cost = cost_of([(units, 0.01 * units) for units in (2, 8) * 5] + [(units, 0.5 * units) for units in (2, 8) * 20])
    fixed, per_unit = cost.parts()
    assert per_unit == pytest.approx(0.5, rel=0.01) and fixed < 0.01


def test_the_parts_are_never_negative():
    shrinking = cost_of([(1, 0.5), (8, 0.1), (1, 0.5), (8, 0.1)])  # longer jobs were faster: no per-unit part
    fixed, per_unit = shrinking.parts()
    assert per_unit == 0.0 and 0.1 < fixed < 0.5  # between the two, nearer the last job's
    steep = cost_of([(2, 0.1), (8, 0.7), (2, 0.1), (8, 0.7)])  # the line crosses 0 above 0 units: all per unit
    fixed, per_unit = steep.parts()
    assert fixed == 0.0 and 0.08 < per_unit < 0.09
