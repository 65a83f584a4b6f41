"""Calendar days in an IANA zone, and the zone's UTC offsets handed to MongoDB.

Python's time-zone database is the one source of truth for what a local day is. MongoDB is never asked to
resolve a zone name: its own database is frozen into each server build (6.0.5 predates, for example,
Kazakhstan's 2024 change), so the pipeline gets the offsets Python computed instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib.resources import files
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DAY_MS = 86_400_000


def _zone_names() -> dict[str, str]:
    """Every name a request may give, mapped to its canonical IANA zone: the zones (`Z` lines) and links (`L`
    lines, e.g. Asia/Calcutta -> Asia/Kolkata) of the `tzdata` package's source file. Not accepted: the files
    a system zoneinfo directory holds besides (`posix/*`, `right/*` with leap seconds, `localtime`, which would
    reveal the host's zone, `posixrules`, `Factory`)."""
    names: dict[str, str] = {}
    try:
        source = files("tzdata").joinpath("zoneinfo", "tzdata.zi").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):  # no tzdata package: the system's, filtered
        return {
            n: n
            for n in available_timezones()
            if not n.startswith(("posix/", "right/")) and n not in ("localtime", "posixrules", "Factory")
        }
    for line in source.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "Z":
            names[parts[1]] = parts[1]
        elif len(parts) >= 3 and parts[0] == "L":
            names[parts[2]] = parts[1]
    names.pop("Factory", None)
    return names


ZONE_NAMES = _zone_names()


def load_zone(name: str) -> ZoneInfo | None:
    """The canonical IANA zone of a zone or link name, or None: any other text (paths, empty, unknown, aliases
    of the system's zoneinfo directory) never raises and never touches the file system."""
    canonical = ZONE_NAMES.get(name) if isinstance(name, str) else None
    if canonical is None:
        return None
    try:
        return ZoneInfo(canonical)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def iso_z(instant: datetime) -> str:
    """JavaScript's Date#toISOString form: UTC, milliseconds, Z, and a four-digit year (strftime's %Y gives
    "10" for the year 10 on glibc; schemathesis found that)."""
    u = instant.astimezone(UTC)
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}."
        f"{u.microsecond // 1000:03d}Z"
    )


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


@lru_cache(maxsize=65_536)
def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local calendar day, in UTC.

    Where midnight does not exist (a DST gap at 00:00) this is the instant of the change, the day's real start;
    where it happens twice, the first one.
    """
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _offset_ms(instant: datetime, zone: ZoneInfo) -> int:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return int(offset / timedelta(milliseconds=1))


@lru_cache(maxsize=1024)
def offset_changes(zone: ZoneInfo, lo: datetime, hi: datetime) -> tuple[int, tuple[tuple[datetime, int], ...]]:
    """The zone's offset at `lo` and every (instant, new offset) at which it changes before `hi`, in ms.

    Offsets are sampled every 12 hours (no zone has changed twice within 12 hours), and each change is then
    pinned to the second by bisection (every change in the database falls on a whole second).
    """
    step = timedelta(hours=12)
    first = _offset_ms(lo, zone)
    changes: list[tuple[datetime, int]] = []
    t, current = lo, first
    while t < hi:
        nxt = min(t + step, hi)
        after = _offset_ms(nxt, zone)
        if after != current:
            a, b = t, nxt  # offset(a) == current, offset(b) != current
            while b - a > timedelta(seconds=1):
                mid = a + (b - a) / 2
                mid = mid.replace(microsecond=0) if mid.replace(microsecond=0) > a else mid
                if _offset_ms(mid, zone) == current:
                    a = mid
                else:
                    b = mid
            if b < hi:
                changes.append((b, after))
            current = after
        t = nxt
    return first, tuple(changes)


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def day_from_number(number: int | float) -> date:
    """The calendar day of a day number (days since 1970-01-01) that `local_day_expression` computed."""
    return date.fromordinal(EPOCH_ORDINAL + int(number))


def local_day_expression(zone: ZoneInfo, lo: datetime, hi: datetime) -> dict:
    """An aggregation expression giving the local calendar day of `$ts` as a day number, valid for ts in
    [lo, hi): the milliseconds of `ts` shifted by the zone's offset at that instant, divided into days.

    Measured on 344,440 messages (MongoDB 6.0.5): 937 ms, against 1,194 ms for `$dateTrunc` of the shifted date
    and 2,012 ms for `$dateTrunc` with the zone's name.
    """
    first, changes = offset_changes(zone, lo, hi)
    offset: int | dict = first
    if changes:
        branches, previous = [], first
        for instant, new_offset in changes:
            branches.append({"case": {"$lt": ["$ts", instant]}, "then": previous})
            previous = new_offset
        offset = {"$switch": {"branches": branches, "default": previous}}
    millis = {"$toLong": "$ts"} if offset == 0 else {"$add": [{"$toLong": "$ts"}, offset]}
    return {"$floor": {"$divide": [millis, DAY_MS]}}
