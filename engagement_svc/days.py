"""Calendar days in an IANA zone: which names are zones, where a local day starts, JavaScript's date form.

Python's time-zone database (kept current by the `tzdata` package) is the one source of truth for what a local
day is. MongoDB is never asked to resolve a zone name: its own database is frozen into each server build (6.0.5
predates, for example, Kazakhstan's 2024 change); counts are kept per UTC slot and summed over the spans Python
computes here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


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


def iso_date(days: int) -> str:
    """A UTC day (days since the epoch) as the start of JavaScript's date form: `2024-03-31T`."""
    day = date.fromordinal(EPOCH_ORDINAL + days)
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}T"


_QUARTER_HOURS = [f"{q // 4:02d}:{q % 4 * 15:02d}:00.000Z" for q in range(96)]


def iso_seconds(seconds: int, date_of: Callable[[int], str] = iso_date) -> str:
    """`iso_z` of a whole number of seconds since the epoch, without building a datetime (local midnights fall
    on quarter hours since 1980: those take two lookups). `date_of`: `iso_date`, or one that remembers it."""
    days, rest = divmod(seconds, 86_400)
    if rest % 900 == 0:
        return date_of(days) + _QUARTER_HOURS[rest // 900]
    hour, rest = divmod(rest, 3600)
    return f"{date_of(days)}{hour:02d}:{rest // 60:02d}:{rest % 60:02d}.000Z"


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


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
SECOND = timedelta(seconds=1)


def midnight_seconds(ordinal: int, zone: ZoneInfo) -> int:
    """The first instant of a local calendar day (a date ordinal), in whole seconds since the epoch.

    Where midnight does not exist (a DST gap at 00:00) this is the instant of the change, the day's real start;
    where it happens twice, the first one (the offset in force just before midnight, as zoneinfo gives for a
    wall time with fold=0). Read from the zone's offset for the naive date, not by building an aware datetime,
    which costs more and is done for every day of every range; a test checks both agree in every zone.
    """
    naive = datetime.fromordinal(ordinal)
    offset = zone.utcoffset(naive)
    return (ordinal - EPOCH_ORDINAL) * 86_400 - (offset // SECOND if offset is not None else 0)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local calendar day, as an aware UTC datetime (see `midnight_seconds`)."""
    return EPOCH + timedelta(seconds=midnight_seconds(day.toordinal(), zone))
