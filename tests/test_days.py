"""Local days in every zone: zone names and where days start (their slots: tests/counting/test_slots.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engagement_svc.days import EPOCH, ZONE_NAMES, load_zone, local_midnight, midnight_seconds


@pytest.mark.parametrize(
    "given, canonical",
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("UTC", "Etc/UTC"),
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("US/Eastern", "America/New_York"),
        ("America/Buenos_Aires", "America/Argentina/Buenos_Aires"),
    ],
)
def test_zones_and_their_aliases(given, canonical):
    assert load_zone(given) == ZoneInfo(canonical)


@pytest.mark.parametrize(
    "name",
    [
        "localtime",
        "posixrules",
        "Factory",
        "posix/Europe/Berlin",
        "right/UTC",
        "/etc/localtime",
        "../zoneinfo/UTC",
        "europe/berlin",
        "Europe/Berlin ",
        "",
        "Europe\\Berlin",
        "Mars/Olympus",
        "Europe/Berlin\x00",
        "A" * 5000,
    ],
)
def test_names_that_are_not_zones_are_refused(name):
    assert load_zone(name) is None


def test_the_accepted_names_are_the_tz_database_zones_and_links():
    assert 550 < len(ZONE_NAMES) < 700  # 597 in tzdata 2026f: 345 zones and 252 links, Factory left out
    assert all(not n.startswith(("posix", "right")) for n in ZONE_NAMES)


@pytest.mark.parametrize(
    "name, day, utc",
    [
        ("Europe/Berlin", date(2024, 3, 31), datetime(2024, 3, 30, 23, tzinfo=UTC)),
        ("Europe/Berlin", date(2024, 4, 1), datetime(2024, 3, 31, 22, tzinfo=UTC)),
        ("America/Sao_Paulo", date(2018, 11, 4), datetime(2018, 11, 4, 3, tzinfo=UTC)),  # midnight skipped: 01:00 -02
        ("America/Havana", date(2023, 11, 5), datetime(2023, 11, 5, 4, tzinfo=UTC)),  # 00:00 happens twice: the first
        ("Asia/Kolkata", date(2024, 1, 1), datetime(2023, 12, 31, 18, 30, tzinfo=UTC)),
        ("Pacific/Apia", date(2011, 12, 31), datetime(2011, 12, 30, 10, tzinfo=UTC)),  # the day after 29 December 2011
    ],
)
def test_local_midnight(name, day, utc):
    assert local_midnight(day, ZoneInfo(name)) == utc


@pytest.mark.parametrize("name", sorted(set(ZONE_NAMES.values())))
def test_midnights_from_offsets_equal_zoneinfos_aware_datetimes(name):
    """midnight_seconds takes the wall-clock offset of a naive midnight; it must be the instant an aware local
    midnight converted to UTC is, gaps and repeated midnights included."""
    zone = ZoneInfo(name)
    for ordinal in range(date(1900, 1, 1).toordinal(), date(2040, 1, 1).toordinal(), 11):
        day = date.fromordinal(ordinal)
        aware = datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
        assert EPOCH + timedelta(seconds=midnight_seconds(ordinal, zone)) == aware, (name, day)
