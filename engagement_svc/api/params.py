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


FORMATS = ("json", "csv")


def wants_csv(query: Mapping[str, str], accept: str) -> bool:
    """`format=csv` (or `json`); without it, the Accept header's preference (RFC 9110: the most specific range
    that matches a type gives its weight), JSON when the two weigh the same."""
    text = _single(query, "format")
    if text is not None:
        if text not in FORMATS:
            raise BadRequest("Invalid parameter 'format': must be json or csv")
        return text == "csv"
    ranges = []
    for part in accept.split(",")[:MAX_ACCEPT_RANGES]:
        media, *params = (p.strip().lower() for p in part.split(";"))
        weights = [p[2:].strip() for p in params if p.startswith("q=")]
        ranges.append((media, _weight(weights[0]) if weights else 1.0))
    return _preference(ranges, "text/csv") > _preference(ranges, "application/json")


MAX_ACCEPT_RANGES = 64  # an Accept header of more media ranges than this is read only that far


def _preference(ranges: list[tuple[str, float]], media: str) -> float:
    """The weight `ranges` give `media`: that of the most specific matching range (type/sub, type/*, */*)."""
    kind = media.split("/", maxsplit=1)[0]
    found = {m: q for m, q in reversed(ranges)}  # the first of equal ranges counts
    for candidate in (media, f"{kind}/*", "*/*"):
        if candidate in found:
            return found[candidate]
    return 0.0


def _weight(text: str) -> float:
    """An Accept q-value (RFC 9110: 0 to 1, at most three decimals); anything else counts as 1."""
    return float(text) if re.fullmatch(r"0(\.\d{0,3})?|1(\.0{0,3})?", text) else 1.0


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


MAX_WHOLE = 999_999_999


def _whole(query: Mapping[str, str], key: str, default: int, most: int = MAX_WHOLE) -> int:
    text = _single(query, key)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()):
        raise BadRequest(f"Invalid parameter '{key}': must be a whole number, 0 or more")
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(most)) or int(digits) > most:  # no int() of a million digits
        raise BadRequest(f"Invalid parameter '{key}': must be at most {most}")
    return int(digits)


def parse_list(query: Mapping[str, str], settings: Settings) -> ListQuery:
    """A range (as `parse_range`), then offset, count (0: the default, at most 100) and sort."""
    q = parse_range(query, settings)
    offset = _whole(query, "offset", 0)
    count = _whole(query, "count", DEFAULT_COUNT, MAX_COUNT) or DEFAULT_COUNT
    sort = _single(query, "sort")
    if sort is None:
        sort = "-messages"
    field = sort[1:] if sort.startswith("-") else sort
    if field not in SORT_FIELDS:
        raise BadRequest(f"Invalid parameter 'sort': must be one of {', '.join(SORT_FIELDS)}, optionally after '-'")
    return ListQuery(**vars(q), offset=offset, count=count, sort=field, descending=sort.startswith("-"))


def _instants(query: Mapping[str, str], keys: tuple[str, ...]) -> dict[str, datetime]:
    """The date-time keys, checked as Rocket.Chat's Match.ObjectIncluding checks them: the keys present first, in
    the order the query gives them (the first invalid one is named), then the missing ones in `keys`' order."""
    raw = {key: _single(query, key) for key in keys}
    found: dict[str, datetime] = {}
    for key in sorted((k for k in keys if raw[k] is not None), key=_position(query)):
        instant = parse_instant(raw[key] or "")
        if instant is None:
            raise BadRequest(f"Match error: Failed Match.Where validation in field {key}")
        found[key] = instant
    for key in keys:
        if key not in found:
            raise BadRequest(f"Match error: Missing key '{key}'")
    return found


def _position(query: Mapping[str, str]):
    order = {key: i for i, key in reversed(list(enumerate(query.keys())))}  # a key's first place in the query
    return lambda key: order.get(key, len(order))


def _zone(query: Mapping[str, str], settings: Settings) -> ZoneInfo:
    text = _single(query, "timezone")
    zone = load_zone(settings.timezone if text is None else text)
    if zone is None:
        raise BadRequest("Match error: Failed Match.Where validation in field timezone")
    return zone


def parse_range(query: Mapping[str, str], settings: Settings) -> RangeQuery:
    """start and end (see `_instants`), then timezone and bots, then the range itself."""
    instants = _instants(query, ("start", "end"))
    start, end = instants["start"], instants["end"]
    zone = _zone(query, settings)
    bots = _bots(query)
    if end < start:
        raise BadRequest(f"end ({_single(query, 'end')}) is before start ({_single(query, 'start')})")
    try:
        first_day, last_day = local_date(start, zone), local_date(end, zone)
    except (OverflowError, ValueError):
        raise BadRequest("start and end must lie between the years 0001 and 9999 in the requested time zone") from None
    days = (last_day - first_day).days + 1
    if days > settings.max_range_days:
        raise BadRequest(
            f"The range from start to end covers {days} days; at most {settings.max_range_days} days are allowed"
        )
    # The answer also reads the window of the same length before the range (or the 30 days of a month of active
    # users) and the day after it ends.
    before = max(days, 30)
    if first_day.toordinal() - before < 2:
        raise BadRequest(
            f"start must be at least {before + 1} days after 0001-01-01 in the requested time zone: the "
            f"{before} days before the range are read too"
        )
    if last_day.toordinal() + 2 > date.max.toordinal():
        raise BadRequest("end must be before 9999-12-30 in the requested time zone: the day after it is read too")
    return RangeQuery(start=start, end=end, zone=zone, first_day=first_day, last_day=last_day, bots=bots)


def parse_day(query: Mapping[str, str], settings: Settings) -> RangeQuery:
    """One instant (`start`; `end` is ignored, as by Rocket.Chat), its zone and bots: the day that holds it, with
    the week before it and the day after it."""
    start = _instants(query, ("start",))["start"]
    zone = _zone(query, settings)
    bots = _bots(query)
    try:
        day = local_date(start, zone)
    except (OverflowError, ValueError):
        raise BadRequest("start must lie between the years 0001 and 9999 in the requested time zone") from None
    if day.toordinal() < 40:
        raise BadRequest(
            "start must be at least 40 days after 0001-01-01 in the requested time zone: the weeks before it are "
            "read too"
        )
    if day.toordinal() + 2 > date.max.toordinal():
        raise BadRequest("start must be before 9999-12-30 in the requested time zone: the day after it is read too")
    return RangeQuery(start=start, end=start, zone=zone, first_day=day, last_day=day, bots=bots)
