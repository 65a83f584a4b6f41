"""How long a counting job takes, for the wait a request is told: a fixed part and a part per day.

A job pays its round trips to the database (loading kept days, claiming, counting, saving: the same for one day as
for eight) and then its documents. Reading a short job's time per day as every day's cost makes a request that
needs years of sparse days look several times longer than it is, and refuses it when it would have been answered
in time. So the recent jobs' times are fitted to `fixed + per_unit x units` by least squares, older jobs weighing
less. While every job measured had about the same size the fit cannot tell the two parts apart: the per-unit part
is then the prior guessed from the data's size (documents per day), and the rest of the time is fixed.
"""

from __future__ import annotations

FORGET = 0.8  # each job measured weighs this much more than the one before it
SAME_SIZE = 0.25  # below this variance of the sizes measured (in units squared), the fit takes the prior


class JobCost:
    def __init__(self) -> None:
        self.prior_per_unit: float | None = None  # a guess from the data's size, until jobs of several sizes ran
        self._weight = self._units = self._seconds = self._units2 = self._units_seconds = 0.0

    @property
    def measured(self) -> bool:
        return self._weight > 0

    def add(self, units: int, seconds: float) -> None:
        """One job done: `units` (days) in `seconds`."""
        self._weight = FORGET * self._weight + 1.0
        self._units = FORGET * self._units + units
        self._seconds = FORGET * self._seconds + seconds
        self._units2 = FORGET * self._units2 + units * units
        self._units_seconds = FORGET * self._units_seconds + units * seconds

    def parts(self) -> tuple[float, float] | None:
        """(fixed seconds per job, seconds per unit), both >= 0; None before anything is measured or guessed."""
        w, u, t = self._weight, self._units, self._seconds
        if not w:
            return None if self.prior_per_unit is None else (0.0, self.prior_per_unit)
        spread = w * self._units2 - u * u  # w^2 x the variance of the sizes
        if spread > SAME_SIZE * w * w:
            per_unit = (w * self._units_seconds - u * t) / spread
        elif self.prior_per_unit is not None:
            per_unit = self.prior_per_unit
        else:
            per_unit = t / u if u else 0.0
        per_unit = max(0.0, per_unit)
        fixed = (t - per_unit * u) / w
        if fixed < 0:  # the jobs cost less than the per-unit part alone says: all of it is per unit
            return 0.0, (self._units_seconds / self._units2 if self._units2 else 0.0)
        return fixed, per_unit

    def seconds(self, units: int, jobs: int = 1) -> float:
        """About how long `jobs` jobs of `units` units in all take on one worker (0 when nothing is known)."""
        parts = self.parts()
        if parts is None:
            return 0.0
        fixed, per_unit = parts
        return jobs * fixed + units * per_unit
