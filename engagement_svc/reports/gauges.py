"""The engagement gauges on /metrics: today's figures (the local day so far, in the service's zone), with and
without bots, read by the reports' own code through `Sources`, so that a gauge always equals what the matching
endpoint answers for today (and shares its remembered answers). How often they are read, and how a slow database
shows, is metrics.Refreshed's."""

from __future__ import annotations

from datetime import UTC, datetime

from engagement_svc.counting.catalog import CLIENTS, MESSAGES, NEW_USERS
from engagement_svc.days import load_zone, local_date
from engagement_svc.metrics import Families, Sample
from engagement_svc.reports.active_users import active_days
from engagement_svc.reports.clients import by_client
from engagement_svc.reports.daily import daily_totals
from engagement_svc.reports.posting_users import posting
from engagement_svc.reports.queries import RangeQuery
from engagement_svc.reports.sources import Sources

BOTS = ("include", "exclude")  # the `bots` label: the API's values (`only` is left out: include minus exclude)
WINDOWS = ("1d", "7d", "30d")

FAMILIES: Families = {
    "engagement_messages_sent": (
        "Messages sent today in the service's zone (messages-sent's count for today)",
        ("bots",),
    ),
    "engagement_people_posting": (
        "Distinct people who sent a message today in the service's zone (posting-users' count for today)",
        ("bots",),
    ),
    "engagement_new_users": (
        "Accounts created today in the service's zone, anonymous users left out (new-users' count for today)",
        ("bots",),
    ),
    "engagement_active_users": (
        "Distinct users with a session today (1d), in the 7 days (7d) and the 30 days (30d) ending today, in the "
        "service's zone (active-users' users, wau and mau for today)",
        ("window", "bots"),
    ),
    "engagement_active_users_by_client": (
        "Distinct users active today through a session of each client (web, desktop, mobile, other), in the "
        "service's zone (clients' counts for today)",
        ("client", "bots"),
    ),
}


def today_query(zone_name: str, bots: str, now: datetime | None = None) -> RangeQuery:
    """The query an API request for today would parse to (start and end now, no `timezone`: the service's zone),
    so that the answers it remembers are the ones the gauges find, and the other way round."""
    zone = load_zone(zone_name)
    if zone is None:
        raise ValueError(f"not a time zone: {zone_name!r}")  # the setting is checked at start-up
    now = now or datetime.now(UTC)
    day = local_date(now, zone)
    return RangeQuery(start=now, end=now, zone=zone, first_day=day, last_day=day, bots=bots)


async def today(sources: Sources, zone_name: str, now: datetime | None = None) -> list[Sample]:
    """Every gauge's samples for today, bots included and excluded."""
    now = now or datetime.now(UTC)
    out: list[Sample] = []
    for bots in BOTS:
        q = today_query(zone_name, bots, now)
        for name, metric in (("engagement_messages_sent", MESSAGES), ("engagement_new_users", NEW_USERS)):
            _, totals = await daily_totals(sources.counts, metric, q, sources.calendar)
            out.append((name, {"bots": bots}, totals[-1]))
        out.append(("engagement_people_posting", {"bots": bots}, (await posting(sources, q)).days[-1][0]))
        day = (await active_days(sources, q))[-1]
        for window, n in zip(WINDOWS, (len(day.users), day.wau, day.mau), strict=True):
            out.append(("engagement_active_users", {"window": window, "bots": bots}, n))
        per_client = (await by_client(sources, q)).days[-1]
        for client, n in zip(CLIENTS, per_client, strict=True):
            out.append(("engagement_active_users_by_client", {"client": client, "bots": bots}, n))
    return out
