"""What a report is asked: its query parameters, parsed and checked once, with Rocket.Chat's exact error texts
plus the checks it lacks. Three kinds: a range of days (`RangeQuery`), the day holding an instant (`DayQuery`), a
range and one page of its rows (`ListQuery`; `MembersQuery` for the accounts). Each kind of query says how a
remembered answer about it is keyed and how its CSV download is named; its `Params` (RANGE, DAY, LIST, MEMBERS)
name the parameters it reads, which the OpenAPI document lists too, and the function that reads them.

HTTP's own parameters (`format`, the Accept header) are api/params.py's."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo

from engagement_svc.counting.catalog import BOTS_CHOICES
from engagement_svc.days import load_zone, local_date
from engagement_svc.reports.sources import Key
from engagement_svc.settings import Settings

# RFC 3339 date-time (section 5.6); the JavaScript ISO form 2023-10-29T14:48:00.000Z is one case of it.
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,  # \d must not match other scripts' digits
)


class BadRequest(ValueError):
    """A 400; the message is the `error` text of the response."""


class NotFound(LookupError):
    """A 404; the message is the `error` text of the response (Rocket.Chat's, with its error code)."""


@dataclass(frozen=True)
class Parameter:
    """A query parameter a report reads."""

    name: str
    required: bool = False


@dataclass(frozen=True)
class RangeQuery:
    """The local days from the day holding `start` to the day holding `end`, in `zone`."""

    start: datetime
    end: datetime
    zone: ZoneInfo
    first_day: date  # the day of `start` in `zone`
    last_day: date  # the day of `end` in `zone`
    bots: str = "include"  # include | exclude | only: which messages (or users) of bots count
    team: str | None = None  # only the messages of this team's rooms (a team's `_id`)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def key(self) -> Key:
        """What an answer about this query depends on, besides the counts: the part of a remembered answer's key
        that the query gives (the instants matter only through their days)."""
        return (self.zone.key, self.first_day, self.last_day, self.bots, self.team)

    def filename(self, name: str) -> str:
        """The CSV download's name: `name`, then the range's first and last days."""
        return f"{name}_{self.first_day.isoformat()}_{self.last_day.isoformat()}.csv"


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


def single_value(query: Mapping[str, str], key: str) -> str | None:
    """The one value of `key`; a repeated key is as invalid as Rocket.Chat's array would be."""
    getall = getattr(query, "getall", None)
    values = getall(key, []) if getall else ([query[key]] if key in query else [])
    if len(values) > 1:
        raise BadRequest(f"Match error: Failed Match.Where validation in field {key}")
    return values[0] if values else None


SORT_FIELDS = (
    "messages",
    "lastWeekMessages",
    "diffFromLastWeek",
    "name",
    "ts",
    "_updatedAt",
    "posters",
    "lastPosted",
    "members",
)
CHANNEL_ACTIVITIES = ("all", "silent")
MAX_COUNT = 100
DEFAULT_COUNT = 50


@dataclass(frozen=True)
class ListQuery(RangeQuery):
    """A range and one page of its rows: `sort` is a field, `descending` its direction; `activity` which rows
    (channels: all or silent; members: all, active or dormant); `hide` whether rooms without messages in the range
    or the one before are left out (Rocket.Chat 6/7's `hideRoomsWithNoActivity`); `team` only a team's rooms."""

    offset: int = 0
    count: int = DEFAULT_COUNT
    sort: str = "messages"
    descending: bool = True
    activity: str = "all"
    hide: bool = True

    def key(self) -> Key:
        """The range's key and the order and choice of its rows (every page of one order is read from the same
        rows)."""
        return (*super().key(), self.sort, self.descending, self.activity, self.hide)


@dataclass(frozen=True)
class DayQuery(RangeQuery):
    """The one local day holding `start` (`first_day` and `last_day` are both that day)."""

    @property
    def day(self) -> date:
        return self.last_day

    def key(self) -> Key:
        return (self.zone.key, self.day, self.bots)

    def filename(self, name: str) -> str:
        return f"{name}_{self.day.isoformat()}.csv"


def _bots(query: Mapping[str, str]) -> str:
    bots = single_value(query, "bots")
    if bots is None:
        return "include"
    if bots not in BOTS_CHOICES:
        raise BadRequest("Invalid parameter 'bots': must be one of include, exclude, only")
    return bots


MAX_WHOLE = 999_999_999


def _whole(query: Mapping[str, str], key: str, default: int, most: int = MAX_WHOLE) -> int:
    text = single_value(query, key)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()):
        raise BadRequest(f"Invalid parameter '{key}': must be a whole number, 0 or more")
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(most)) or int(digits) > most:  # no int() of a million digits
        raise BadRequest(f"Invalid parameter '{key}': must be at most {most}")
    return int(digits)


@dataclass(frozen=True)
class Paging:
    offset: int
    count: int
    sort: str
    descending: bool


def _paging(query: Mapping[str, str], fields: tuple[str, ...]) -> Paging:
    """offset, count (0: the default, at most 100) and sort: one of `fields`, after '-' for descending (default
    -messages)."""
    offset = _whole(query, "offset", 0)
    count = _whole(query, "count", DEFAULT_COUNT, MAX_COUNT) or DEFAULT_COUNT
    sort = single_value(query, "sort")
    if sort is None:
        sort = "-messages"
    field = sort[1:] if sort.startswith("-") else sort
    if field not in fields:
        raise BadRequest(f"Invalid parameter 'sort': must be one of {', '.join(fields)}, optionally after '-'")
    return Paging(offset, count, field, sort.startswith("-"))


def _choice(query: Mapping[str, str], key: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first when absent), else a 400 naming `key`."""
    value = single_value(query, key)
    if value is None:
        return choices[0]
    if value not in choices:
        raise BadRequest(f"Invalid parameter '{key}': must be one of {', '.join(choices)}")
    return value


def _team(query: Mapping[str, str]) -> str | None:
    """teamId: absent, or a team's id (whether it exists is the report's to check)."""
    team = single_value(query, "teamId")
    if team is not None and not team:
        raise BadRequest("Invalid parameter 'teamId': must be a team's _id")
    return team


def parse_list(query: Mapping[str, str], settings: Settings) -> ListQuery:
    """A range (as `parse_range`), then offset, count (0: the default, at most 100), sort, activity (all or
    silent), hideRoomsWithNoActivity (true or false) and teamId."""
    q = parse_team_range(query, settings)
    paging = _paging(query, SORT_FIELDS)
    activity = _choice(query, "activity", CHANNEL_ACTIVITIES)
    hide = _choice(query, "hideRoomsWithNoActivity", ("true", "false")) == "true"
    return ListQuery(**vars(q), **vars(paging), activity=activity, hide=hide)


MEMBER_SORTS = ("messages", "channelMessages", "daysActive", "lastActive", "lastPosted", "username", "createdAt")
ACTIVITIES = ("all", "active", "dormant")


@dataclass(frozen=True)
class MembersQuery(ListQuery):
    """A page of the members table (`activity`: all, active or dormant in the range)."""


def parse_members(query: Mapping[str, str], settings: Settings) -> MembersQuery:
    """A range (as `parse_range`), then offset, count and sort (as `parse_list`, by a member's field), then
    activity."""
    q = parse_range(query, settings)
    paging = _paging(query, MEMBER_SORTS)
    return MembersQuery(**vars(q), **vars(paging), activity=_choice(query, "activity", ACTIVITIES))


def _instants(query: Mapping[str, str], keys: tuple[str, ...]) -> dict[str, datetime]:
    """The date-time keys, checked as Rocket.Chat's Match.ObjectIncluding checks them: the keys present first, in
    the order the query gives them (the first invalid one is named), then the missing ones in `keys`' order."""
    raw = {key: single_value(query, key) for key in keys}
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


def _position(query: Mapping[str, str]) -> Callable[[str], int]:
    order = {key: i for i, key in reversed(list(enumerate(query.keys())))}  # a key's first place in the query
    return lambda key: order.get(key, len(order))


def _zone(query: Mapping[str, str], settings: Settings) -> ZoneInfo:
    text = single_value(query, "timezone")
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
        raise BadRequest(f"end ({single_value(query, 'end')}) is before start ({single_value(query, 'start')})")
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


def parse_team_range(query: Mapping[str, str], settings: Settings) -> RangeQuery:
    """A range (as `parse_range`), then teamId."""
    return replace(parse_range(query, settings), team=_team(query))


@dataclass(frozen=True)
class RoomQuery(RangeQuery):
    """A range and one room (its `_id`)."""

    room: str = ""

    def key(self) -> Key:
        return (*super().key(), self.room)

    def filename(self, name: str) -> str:
        return super().filename(f"{name}_{self.room}")


def parse_room(query: Mapping[str, str], settings: Settings) -> RoomQuery:
    """start and end, then roomId (missing: Rocket.Chat's Match error), then the rest of the range (as
    `parse_range`)."""
    _instants(query, ("start", "end"))
    room = single_value(query, "roomId")
    if room is None:
        raise BadRequest("Match error: Missing key 'roomId'")
    return RoomQuery(**vars(parse_range(query, settings)), room=room)


def parse_day(query: Mapping[str, str], settings: Settings) -> DayQuery:
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
    return DayQuery(start=start, end=start, zone=zone, first_day=day, last_day=day, bots=bots)


@dataclass(frozen=True)
class NoQuery:
    """What a report without parameters is asked (the list of teams): nothing."""

    def key(self) -> Key:
        return ()

    def filename(self, name: str) -> str:
        return f"{name}.csv"


def parse_nothing(query: Mapping[str, str], settings: Settings) -> NoQuery:
    """Nothing to read: other parameters are ignored, as Rocket.Chat ignores those it does not know."""
    return NoQuery()


class Query(Protocol):
    """What every kind of query says: the key of an answer about it, and its CSV download's name."""

    def key(self) -> Key: ...

    def filename(self, name: str) -> str: ...


Q = TypeVar("Q", bound=Query)


@dataclass(frozen=True)
class Params(Generic[Q]):
    """A kind of query: the parameters it reads (the OpenAPI document lists the same, equally required) and the
    function that reads them."""

    parameters: tuple[Parameter, ...]
    parse: Callable[[Mapping[str, str], Settings], Q]


_TIMEZONE_AND_BOTS = (Parameter("timezone"), Parameter("bots"))
RANGE = Params((Parameter("start", True), Parameter("end", True), *_TIMEZONE_AND_BOTS), parse_range)
TEAM_RANGE = Params((*RANGE.parameters, Parameter("teamId")), parse_team_range)
# `end` is taken and ignored, as Rocket.Chat's busier-hours and busier-days endpoints take it.
DAY = Params((Parameter("start", True), Parameter("end"), *_TIMEZONE_AND_BOTS), parse_day)
_PAGE = (Parameter("offset"), Parameter("count"), Parameter("sort"), Parameter("activity"))
LIST = Params((*RANGE.parameters, *_PAGE, Parameter("hideRoomsWithNoActivity"), Parameter("teamId")), parse_list)
MEMBERS = Params((*RANGE.parameters, *_PAGE), parse_members)
NOTHING = Params((), parse_nothing)
ROOM = Params((*RANGE.parameters, Parameter("roomId", True)), parse_room)
