"""The request's query parameters: Rocket.Chat's exact error texts, plus the checks it lacks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from engagement_svc.counting.catalog import BOTS_CHOICES
from engagement_svc.days import load_zone, local_date
from engagement_svc.settings import Settings

# RFC 3339 date-time (section 5.6); the JavaScript ISO form 2023-10-29T14:48:00.000Z is one case of it.
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,  # \d must not match other scripts' digits
)


class BadRequest(ValueError):
    """A 400; the message is the `error` text of the response."""


@dataclass(frozen=True)
class RangeQuery:
    start: datetime
    end: datetime
    zone: ZoneInfo
    first_day: date  # the day of `start` in `zone`
    last_day: date  # the day of `end` in `zone`
    bots: str = "include"  # include | exclude | only: which messages (or users) of bots count

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def parse_instant(text: str) -> datetime | None:
    """An RFC 3339 date-time as an aware UTC datetime, or None when it is not one (or not a real date)."""
    m = _DATE_TIME.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    leap = second == 60  # RFC 3339 allows a leap second; it belongs to the same day as :59
    if leap:
        second, micro = 59, 999_999
    if m.group(8):
        offset = timedelta(0)
    else:
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            return None
        offset = timedelta(hours=oh, minutes=om) * (-1 if m.group(9) == "-" else 1)
    try:
        local = datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone(offset))
        return local.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _single(query: Mapping[str, str], key: str) -> str | None:
    """The one value of `key`; a repeated key is as invalid as Rocket.Chat's array would be."""
    getall = getattr(query, "getall", None)
    values = getall(key, []) if getall else ([query[key]] if key in query else [])
    if len(values) > 1:
        raise BadRequest(f"Match error: Failed Match.Where validation in field {key}")
    return values[0] if values else None


SORT_FIELDS = ("messages", "lastWeekMessages", "diffFromLastWeek", "name", "ts", "_updatedAt")
MAX_COUNT = 100
DEFAULT_COUNT = 50


@dataclass(frozen=True)
class ListQuery(RangeQuery):
    """A range and one page of its rows: `sort` is a field, `descending` its direction."""

    offset: int = 0
    count: int = DEFAULT_COUNT
    sort: str = "messages"
    descending: bool = True


def _bots(query: Mapping[str, str]) -> str:
    bots = _single(query, "bots")
    if bots is None:
        return "include"
    if bots not in BOTS_CHOICES:
        raise BadRequest("Invalid parameter 'bots': must be one of include, exclude, only")
    return bots


def _whole(query: Mapping[str, str], key: str, default: int, most: int | None = None) -> int:
    text = _single(query, key)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise BadRequest(f"Invalid parameter '{key}': must be a whole number, 0 or more")
    value = int(text)
    if most is not None and value > most:
        raise BadRequest(f"Invalid parameter '{key}': must be at most {most}")
    return value


def parse_list(query: Mapping[str, str], settings: Settings) -> ListQuery:
    """A range (as `parse_range`), then offset, count (0: the default, at most 100) and sort."""
    q = parse_range(query, settings)
    offset = _whole(query, "offset", 0)
    count = _whole(query, "count", DEFAULT_COUNT, MAX_COUNT) or DEFAULT_COUNT
    sort = _single(query, "sort") or "-messages"
    field = sort[1:] if sort.startswith("-") else sort
    if field not in SORT_FIELDS:
        raise BadRequest(f"Invalid parameter 'sort': must be one of {', '.join(SORT_FIELDS)}, optionally after '-'")
    return ListQuery(**vars(q), offset=offset, count=count, sort=field, descending=sort.startswith("-"))


def parse_range(query: Mapping[str, str], settings: Settings) -> RangeQuery:
    """Missing keys first (start, then end), then forms (start, end, timezone, bots), then the range itself."""
    default_zone, max_days = settings.timezone, settings.max_range_days
    raw = {key: _single(query, key) for key in ("start", "end", "timezone")}
    for key in ("start", "end"):
        if raw[key] is None:
            raise BadRequest(f"Match error: Missing key '{key}'")
    start, end = parse_instant(raw["start"] or ""), parse_instant(raw["end"] or "")
    if start is None:
        raise BadRequest("Match error: Failed Match.Where validation in field start")
    if end is None:
        raise BadRequest("Match error: Failed Match.Where validation in field end")
    zone = load_zone(default_zone if raw["timezone"] is None else raw["timezone"])
    if zone is None:
        raise BadRequest("Match error: Failed Match.Where validation in field timezone")
    bots = _bots(query)
    if end < start:
        raise BadRequest(f"end ({raw['end']}) is before start ({raw['start']})")
    try:
        first_day, last_day = local_date(start, zone), local_date(end, zone)
    except (OverflowError, ValueError):
        raise BadRequest("start and end must lie between the years 0001 and 9999 in the requested time zone") from None
    days = (last_day - first_day).days + 1
    if days > max_days:
        raise BadRequest(f"The range from start to end covers {days} days; at most {max_days} days are allowed")
    # The answer also reads the window of the same length before the range (or the 30 days of a month of active
    # users) and the day after it ends.
    if first_day.toordinal() - max(days, 30) < 2 or last_day.toordinal() + 2 > date.max.toordinal():
        raise BadRequest(
            "start and end must lie between the years 0001 and 9999, with room for the window before start"
        )
    return RangeQuery(start=start, end=end, zone=zone, first_day=first_day, last_day=last_day, bots=bots)


def parse_day(query: Mapping[str, str], settings: Settings) -> RangeQuery:
    """One instant (`start`; `end` is ignored, as by Rocket.Chat), its zone and bots: the day that holds it, with
    room for the week before it."""
    raw = {key: _single(query, key) for key in ("start", "timezone")}
    if raw["start"] is None:
        raise BadRequest("Match error: Missing key 'start'")
    start = parse_instant(raw["start"])
    if start is None:
        raise BadRequest("Match error: Failed Match.Where validation in field start")
    zone = load_zone(settings.timezone if raw["timezone"] is None else raw["timezone"])
    if zone is None:
        raise BadRequest("Match error: Failed Match.Where validation in field timezone")
    bots = _bots(query)
    try:
        day = local_date(start, zone)
    except (OverflowError, ValueError):
        raise BadRequest("start must lie between the years 0001 and 9999 in the requested time zone") from None
    if day.toordinal() < 40 or day.toordinal() + 2 > date.max.toordinal():
        raise BadRequest("start must lie between the years 0001 and 9999, with room for the week before it")
    return RangeQuery(start=start, end=start, zone=zone, first_day=day, last_day=day, bots=bots)
