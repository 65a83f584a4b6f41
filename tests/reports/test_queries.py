"""The queries reports are asked: the date forms accepted and refused, what each kind of query reads (its declared
parameters, required or not, and nothing else), its remembered answers' key and its CSV file's name. Without a
mongod: the parsers are pure."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engagement_svc.reports.queries import (
    DAY,
    LIST,
    MEMBERS,
    RANGE,
    TEAM_RANGE,
    BadRequest,
    DayQuery,
    ListQuery,
    RangeQuery,
    parse_instant,
)
from engagement_svc.settings import Settings

SETTINGS = Settings(
    mongo_url="mongodb://127.0.0.1:1", database="rocketchat", timezone="America/Havana", max_range_days=30
)
START, END = "2024-03-30T22:30:00.000Z", "2024-04-02T10:00:00.000Z"
# A value for every parameter any query reads, and a value each refuses.
VALID = {
    "start": START,
    "end": END,
    "timezone": "Europe/Berlin",
    "bots": "exclude",
    "offset": "5",
    "count": "7",
    "sort": "-messages",
    "activity": "all",
    "hideRoomsWithNoActivity": "false",
    "teamId": "T1",
}
INVALID = {
    "start": "x",
    "end": "x",
    "timezone": "Mars/Olympus",
    "bots": "all",
    "offset": "-1",
    "count": "x",
    "sort": "nope",
    "activity": "idle",
    "hideRoomsWithNoActivity": "0",
    "teamId": "",
}
KINDS = {"range": RANGE, "day": DAY, "list": LIST, "members": MEMBERS}


ACCEPTED = {
    "2023-10-29T14:48:00.000Z": datetime(2023, 10, 29, 14, 48, tzinfo=UTC),
    "2023-10-29T14:48:00Z": datetime(2023, 10, 29, 14, 48, tzinfo=UTC),
    "2023-10-29t14:48:00z": datetime(2023, 10, 29, 14, 48, tzinfo=UTC),
    "2023-10-29T14:48:00.5Z": datetime(2023, 10, 29, 14, 48, 0, 500_000, tzinfo=UTC),
    "2023-10-29T14:48:00.123456789Z": datetime(2023, 10, 29, 14, 48, 0, 123_456, tzinfo=UTC),
    "2023-10-29T16:48:00+02:00": datetime(2023, 10, 29, 14, 48, tzinfo=UTC),
    "2023-10-29T09:18:00.250-05:30": datetime(2023, 10, 29, 14, 48, 0, 250_000, tzinfo=UTC),
    "2023-10-29T14:48:00-00:00": datetime(2023, 10, 29, 14, 48, tzinfo=UTC),
    "2023-10-30T00:30:00+09:42": datetime(2023, 10, 29, 14, 48, tzinfo=UTC),
    "2016-12-31T23:59:60Z": datetime(2016, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),  # leap second
    "2024-02-29T00:00:00.000Z": datetime(2024, 2, 29, tzinfo=UTC),
}

REFUSED = [
    "2023-10-29",
    "2023-10-29T14:48:00",
    "2023-10-29T14:48:00.000",
    "2023-10-29 14:48:00Z",
    "2023-10-29T14:48Z",
    "2023-10-29T14:48:00.Z",
    "2023-13-01T00:00:00Z",
    "2023-02-29T00:00:00Z",
    "2023-04-31T00:00:00Z",
    "2023-10-29T24:00:00Z",
    "2023-10-29T14:60:00Z",
    "2023-10-29T14:48:61Z",
    "2023-10-29T14:48:00+24:00",
    "2023-10-29T14:48:00+02:60",
    "2023-10-29T14:48:00+0200",
    "2023-10-29T14:48:00+02",
    "1698590880000",
    "Sun Oct 29 2023 14:48:00 GMT+0000",
    "+002023-10-29T14:48:00.000Z",
    "23-10-29T14:48:00Z",
    " 2023-10-29T14:48:00Z",
    "2023-10-29T14:48:00Z ",
    "2023-10-29T14:48:00ZZ",
    "２０２３-10-29T14:48:00Z",
    "0000-01-01T00:00:00Z",
    "null",
    "",
]


@pytest.mark.parametrize("text, instant", ACCEPTED.items())
def test_accepted_forms(text, instant):
    assert parse_instant(text) == instant


@pytest.mark.parametrize("text", REFUSED)
def test_refused_forms(text):
    assert parse_instant(text) is None


@pytest.mark.parametrize("kind", KINDS)
def test_every_required_parameter_is_required_and_every_other_optional(kind):
    params = KINDS[kind]
    required = [p.name for p in params.parameters if p.required]
    assert required[0] == "start"
    params.parse({name: VALID[name] for name in required}, SETTINGS)  # the optional ones may all be left out
    for name in required:
        with pytest.raises(BadRequest, match=f"Missing key '{name}'"):
            params.parse({k: VALID[k] for k in required if k != name}, SETTINGS)


@pytest.mark.parametrize("kind", KINDS)
def test_a_query_reads_its_declared_parameters_and_no_other(kind):
    """A bad value of a declared parameter is refused, naming it (but `end` of a day: taken and ignored, as by
    Rocket.Chat); one of a parameter the kind does not declare is never looked at."""
    params = KINDS[kind]
    declared = {p.name for p in params.parameters}
    for name in declared - {"end"} if params is DAY else declared:
        with pytest.raises(BadRequest, match=name):
            params.parse({**VALID, name: INVALID[name]}, SETTINGS)
    params.parse({**{k: INVALID[k] for k in VALID.keys() - declared}, **{k: VALID[k] for k in declared}}, SETTINGS)
    if params is DAY:
        params.parse({"start": START, "end": INVALID["end"]}, SETTINGS)


def test_a_range_is_its_local_days():
    q = RANGE.parse({"start": START, "end": END, "timezone": "Europe/Berlin", "bots": "only"}, SETTINGS)
    assert type(q) is RangeQuery
    assert (q.first_day, q.last_day, q.days) == (date(2024, 3, 30), date(2024, 4, 2), 4)
    assert q.start == datetime(2024, 3, 30, 22, 30, tzinfo=UTC) and q.zone.key == "Europe/Berlin"
    assert q.key() == ("Europe/Berlin", date(2024, 3, 30), date(2024, 4, 2), "only", None)
    team = TEAM_RANGE.parse({"start": START, "end": END, "timezone": "Europe/Berlin", "teamId": "T1"}, SETTINGS)
    assert team.key()[-1] == "T1" and team.team == "T1"  # a team's answer is remembered apart
    assert q.filename("messages-sent") == "messages-sent_2024-03-30_2024-04-02.csv"
    # 22:30Z on 30 March is 23:30 in Berlin, 00:30 on the 31st in Kathmandu (+05:45): the days are the zone's
    assert RANGE.parse({"start": START, "end": END, "timezone": "Asia/Kathmandu"}, SETTINGS).first_day == date(
        2024, 3, 31
    )


def test_the_default_zone_and_bots_come_from_settings_and_include():
    q = RANGE.parse({"start": START, "end": END}, SETTINGS)
    assert q.zone.key == "America/Havana" and q.bots == "include"


def test_a_day_is_the_day_holding_start():
    q = DAY.parse({"start": START, "timezone": "Asia/Kathmandu"}, SETTINGS)
    assert type(q) is DayQuery and q.day == q.first_day == q.last_day == date(2024, 3, 31)
    assert q.key() == ("Asia/Kathmandu", date(2024, 3, 31), "include")
    assert q.filename("busier-hours") == "busier-hours_2024-03-31.csv"


def test_a_list_is_a_range_one_page_and_an_order():
    q = LIST.parse({"start": START, "end": END, "offset": "5", "count": "0", "sort": "-name"}, SETTINGS)
    assert type(q) is ListQuery
    assert (q.offset, q.count, q.sort, q.descending) == (5, 50, "name", True)  # count 0: the default
    other_page = LIST.parse({"start": START, "end": END, "offset": "55", "sort": "-name"}, SETTINGS)
    assert q.key() == other_page.key()  # every page of one order reads the same rows
    assert q.key() != LIST.parse({"start": START, "end": END, "sort": "name"}, SETTINGS).key()
    assert q.key()[:5] == RANGE.parse({"start": START, "end": END}, SETTINGS).key()
    default = LIST.parse({"start": START, "end": END}, SETTINGS)
    assert (default.offset, default.count, default.sort, default.descending) == (0, 50, "messages", True)
    assert q.filename("channels-list") == "channels-list_2024-03-30_2024-04-02.csv"


def test_a_range_over_the_maximum_names_its_length():
    with pytest.raises(BadRequest, match="covers 31 days; at most 30 days"):
        RANGE.parse({"start": "2024-01-01T00:00:00Z", "end": "2024-01-31T00:00:00Z", "timezone": "UTC"}, SETTINGS)
    RANGE.parse({"start": "2024-01-01T00:00:00Z", "end": "2024-01-30T23:59:59Z", "timezone": "UTC"}, SETTINGS)


def test_the_last_day_is_the_zones_date_of_end_and_parameters_come_as_aiohttp_gives_them():
    from multidict import MultiDict

    # 23:30Z on 1 March is 08:30 on the 2nd in Tokyo: the range's last day is the zone's, not the host's
    tokyo = RANGE.parse(
        {"start": "2024-03-01T00:00:00Z", "end": "2024-03-01T23:30:00Z", "timezone": "Asia/Tokyo"}, SETTINGS
    )
    assert (tokyo.first_day, tokyo.last_day) == (date(2024, 3, 1), date(2024, 3, 2))
    query = MultiDict([("start", START), ("end", END), ("timezone", "Europe/Berlin")])
    assert RANGE.parse(query, SETTINGS) == RANGE.parse(dict(query), SETTINGS)
    twice = MultiDict([("start", START), ("start", START), ("end", END)])
    with pytest.raises(BadRequest, match="field start"):
        RANGE.parse(twice, SETTINGS)
