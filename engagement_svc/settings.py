"""Every setting in one table: its field, environment variable, kind, default and help.

The table is the single source of `Settings.from_env`, of the `--help` text and of the README's table (a test
keeps the README equal to `markdown_list()`). A bad value stops start-up with one line naming the variable;
no value is echoed that could be a secret.
"""

from __future__ import annotations

import ipaddress
import os
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from engagement_svc.days import load_zone

DEFAULT_DATABASE = "rocketchat"
DEFAULT_STATE_DATABASE = "engagement_svc"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DIGEST_PERIODS = ("7d", "30d")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it and never echoes a secret."""


@dataclass(frozen=True)
class Setting:
    field: str
    variable: str
    kind: str  # "url", "webhook", "text", "zone", "int", "level", "networks" or "choice"
    default: Any
    help: str
    low: int = 0
    high: int = 0
    shown_default: str = ""  # for the help text when the default is not a plain value
    choices: tuple[str, ...] = ()  # a "choice" setting's values (given in any case)


# fmt: off
TABLE: tuple[Setting, ...] = (
    Setting("mongo_url", "MONGO_URL", "url", "",
            "The same URL Rocket.Chat uses. Its path is the database (`rocketchat` when absent); its options "
            "(replica set, TLS, `authSource`, `readPreference`) pass to the driver.",
            shown_default="required for `serve`"),
    Setting("host", "ENGAGEMENT_HOST", "text", "127.0.0.1", "Address to listen on."),
    Setting("port", "ENGAGEMENT_PORT", "int", 8080, "Port to listen on.", 0, 65535),
    Setting("timezone", "ENGAGEMENT_TIMEZONE", "zone", "UTC",
            "IANA zone whose calendar days are counted when a request has no `timezone`."),
    Setting("max_range_days", "ENGAGEMENT_MAX_RANGE_DAYS", "int", 732,
            "Longest range a request may cover, in calendar days.", 1, 36_500),
    Setting("query_timeout_ms", "ENGAGEMENT_QUERY_TIMEOUT_MS", "int", 10_000,
            "Time limit for all database work of one request (sent to MongoDB as `maxTimeMS`). Past it, or when "
            "MongoDB is unreachable, the answer is a 503. A request whose counting cannot be done within it is "
            "answered 503 at once, with `Retry-After`; counting goes on in the background (limit 600 s per "
            "query), so a retry finds it done.", 1, 3_600_000),
    Setting("state_mongo_url", "ENGAGEMENT_STATE_MONGO_URL", "url", "",
            "Where the service keeps its own state (counts of closed UTC days). Its path names the database.",
            shown_default="`MONGO_URL`'s server, database `engagement_svc`"),
    Setting("close_grace_seconds", "ENGAGEMENT_CLOSE_GRACE_SECONDS", "int", 600,
            "A UTC day is closed, and counted once, this long after its end.", 0, 7 * 86_400),
    Setting("freshness_ms", "ENGAGEMENT_FRESHNESS_MS", "int", 5_000,
            "The most an open day's count may lag when the change stream is not available (it is then counted "
            "directly and the count reused this long). With the change stream, counts follow within "
            "milliseconds.", 0, 3_600_000),
    Setting("sweep_seconds", "ENGAGEMENT_SWEEP_SECONDS", "int", 300,
            "How often kept closed days are checked for deletions (and at most once a minute after a deletion "
            "is seen).", 1, 7 * 86_400),
    Setting("sweep_budget", "ENGAGEMENT_SWEEP_BUDGET", "int", 600,
            "Most index-only counts a sweep sends per minute (one per kept UTC day, newest first), so that "
            "checking years of history for deletions stays a trickle.", 1, 1_000_000),
    Setting("warm_days", "ENGAGEMENT_WARM_DAYS", "int", 36_500,
            "Closed UTC days counted in the background at start-up (the backfill), newest first and after any "
            "request's counting; by default all of them, so that every range is answered from kept counts. "
            "Readiness does not wait for it; `/readyz` and `/metrics` show its progress. `0` turns it off.",
            0, 36_500),
    Setting("detail_days_mb", "ENGAGEMENT_DETAIL_DAYS_MB", "int", 64,
            "Memory, about, for the kept days of the detailed counts that only this service's own endpoints read "
            "(each message's room and author, each session's client: about one entry per message). The days read "
            "least recently are dropped from memory past it; they stay in the state database and are read back "
            "when asked. A request's own days are held while it runs, whatever their size. `0` keeps none between "
            "requests.", 0, 1_000_000),
    Setting("gauges_seconds", "ENGAGEMENT_GAUGES_SECONDS", "int", 30,
            "The engagement gauges on `/metrics` (today's messages, people posting, new users, active users and "
            "active users per client, in `ENGAGEMENT_TIMEZONE`, with and without bots) are read again at most this "
            "often, when a scrape finds them older; a scrape waits at most 2 s for that, then shows the last values "
            "with `engagement_gauges_stale` 1. `0` turns the gauges off.", 0, 86_400),
    Setting("rate_limit_calls", "ENGAGEMENT_RATE_LIMIT_CALLS", "int", 10,
            "Calls per window of each endpoint from one client address, as Rocket.Chat's API rate limiter (one "
            "budget per route and method per address). Rocket.Chat's own settings in `rocketchat_settings` win "
            "and are followed live: `API_Enable_Rate_Limiter`, `API_Enable_Rate_Limiter_Limit_Calls_Default`, "
            "`API_Enable_Rate_Limiter_Limit_Time_Default`; this one and the next apply where a setting is absent. "
            "Users whose roles hold `api-bypass-rate-limit` (by default `admin`, `bot`, `app`) are exempt; calls "
            "refused 401 are not counted. `0` turns the limit off unless Rocket.Chat's setting turns it on.",
            0, 1_000_000_000),
    Setting("rate_limit_seconds", "ENGAGEMENT_RATE_LIMIT_SECONDS", "int", 60,
            "The rate limit's window where Rocket.Chat's `API_Enable_Rate_Limiter_Limit_Time_Default` is absent.",
            1, 86_400),
    Setting("trusted_proxies", "ENGAGEMENT_TRUSTED_PROXIES", "networks", "",
            "Addresses or CIDR blocks (comma-separated, e.g. `127.0.0.1, 10.1.2.3`) of reverse proxies whose "
            "`X-Forwarded-For` is believed: the rate limit's client address is then the first address from the "
            "right of that header that is not one of them. Requests from any other peer are limited by the peer's "
            "own address, whatever the header says. List the proxies themselves: a client inside a listed block "
            "could name its own address.", shown_default="none"),
    Setting("keepalive_seconds", "ENGAGEMENT_KEEPALIVE_SECONDS", "int", 60,
            "How long a connection may stay idle, or take to send a request's line and headers, from its opening "
            "or its previous answer; past it the connection is closed (nginx's `client_header_timeout` is 60 s, "
            "its upstream keep-alive shorter): idle, half-sent and slow connections are never held longer.",
            1, 3_600),
    Setting("drain_seconds", "ENGAGEMENT_DRAIN_SECONDS", "int", 30,
            "On SIGTERM (or Ctrl-C) the service stops accepting connections and gives requests in flight this "
            "long to finish, then closes its MongoDB connections (at most 3 s more, even if MongoDB hangs) and "
            "exits 0.", 0, 3_600),
    Setting("log_level", "ENGAGEMENT_LOG_LEVEL", "level", "INFO",
            "`DEBUG`, `INFO`, `WARNING` or `ERROR`. Logs are one JSON object per line; at `INFO`, one line per "
            "request: method, path, status, duration and request id (the caller's `X-Request-Id` if it is 1 to "
            "128 characters of `A-Z a-z 0-9 . _ : -`, else a generated one; echoed in the response). No header "
            "value, token or stack trace is ever logged, and the driver's own command logging stays off at "
            "every level (it would print the hashed token)."),
    Setting("digest_webhook", "ENGAGEMENT_DIGEST_WEBHOOK", "webhook", "",
            "A Rocket.Chat incoming webhook's URL (`https://chat.example/hooks/<id>/<token>`): once a week `serve` "
            "posts the engagement digest there (as `engagement-svc digest` does), sent once however many replicas "
            "run. Empty: no digest. Logs show it as `https://chat.example/hooks/<id>/***`, never its token.",
            shown_default="none: no scheduled digest"),
    Setting("digest_period", "ENGAGEMENT_DIGEST_PERIOD", "choice", "7d",
            "What the scheduled digest sums up: `7d`, the 7 whole days ending the day before it is sent, against the "
            "7 before; `30d`, the 30 days likewise.", choices=DIGEST_PERIODS),
    Setting("digest_weekday", "ENGAGEMENT_DIGEST_WEEKDAY", "choice", "monday",
            "The day of the week the digest is sent on, in `ENGAGEMENT_TIMEZONE`'s calendar (`monday` ... `sunday`).",
            choices=WEEKDAYS),
    Setting("digest_hour", "ENGAGEMENT_DIGEST_HOUR", "int", 9,
            "The hour of that day the digest is sent at, in `ENGAGEMENT_TIMEZONE` (a replica started later that day, "
            "up to 12 hours late, sends it if no replica has).", 0, 23),
)
# fmt: on


@dataclass(frozen=True)
class Settings:
    mongo_url: str
    database: str
    host: str = "127.0.0.1"
    port: int = 8080
    timezone: str = "UTC"
    max_range_days: int = 732
    query_timeout_ms: int = 10_000
    state_mongo_url: str = ""  # empty: MONGO_URL's server
    state_database: str = DEFAULT_STATE_DATABASE
    close_grace_seconds: int = 600
    freshness_ms: int = 5_000
    sweep_seconds: int = 300
    sweep_budget: int = 600
    warm_days: int = 36_500
    detail_days_mb: int = 64
    gauges_seconds: int = 30
    rate_limit_calls: int = 10
    rate_limit_seconds: int = 60
    trusted_proxies: str = ""
    keepalive_seconds: int = 60
    drain_seconds: int = 30
    log_level: str = "INFO"
    digest_webhook: str = ""  # empty: no scheduled digest
    digest_period: str = "7d"
    digest_weekday: str = "monday"
    digest_hour: int = 9

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values = {s.field: parse(s, env) for s in TABLE}
        if not values["mongo_url"]:
            raise ConfigError(
                "MONGO_URL is not set: give the Rocket.Chat MongoDB URL, e.g. mongodb://host:27017/rocketchat"
            )
        values["database"] = database_from_url(values["mongo_url"])
        values["state_database"] = (
            database_from_url(values["state_mongo_url"], "ENGAGEMENT_STATE_MONGO_URL", DEFAULT_STATE_DATABASE)
            if values["state_mongo_url"]
            else DEFAULT_STATE_DATABASE
        )
        return cls(**values)


assert {s.field for s in TABLE} | {"database", "state_database"} == {f.name for f in fields(Settings)}


def setting(variable: str) -> Setting:
    return next(s for s in TABLE if s.variable == variable)


def parse(s: Setting, env: Mapping[str, str]) -> Any:
    """One setting's value from the environment, checked."""
    raw = env.get(s.variable, "").strip()
    if not raw:
        return s.default
    if s.kind == "int":
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{s.variable} must be a whole number, got {raw!r}") from None
        if not s.low <= value <= s.high:
            raise ConfigError(f"{s.variable} must be between {s.low} and {s.high}, got {value}")
        return value
    if s.kind == "zone":
        if load_zone(raw) is None:
            raise ConfigError(f"{s.variable} must be an IANA time zone such as Europe/Berlin, got {raw!r}")
        return raw
    if s.kind == "level":
        level = raw.upper()
        if level not in LOG_LEVELS:
            raise ConfigError(f"{s.variable} must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
        return level
    if s.kind == "networks":
        try:
            networks(raw)
        except ValueError as exc:
            raise ConfigError(f"{s.variable}: {exc}") from None
        return raw
    if s.kind == "choice":
        if raw.lower() not in s.choices:
            raise ConfigError(f"{s.variable} must be one of {', '.join(s.choices)}, got {raw[:40]!r}")
        return raw.lower()
    if s.kind == "webhook":
        check_webhook(raw, s.variable)  # the value holds the webhook's token: never echoed
        return raw
    if s.kind == "url":
        database_from_url(raw, s.variable)  # checks the form; the value may hold a password: never echoed
    return raw


def check_webhook(url: str, name: str) -> None:
    """An http(s) URL naming a host; the message never echoes it (its path is the webhook's secret)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises here
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"{name} must be an http:// or https:// URL naming a host (a Rocket.Chat incoming webhook)")


def networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, 127.0.0.1, ::1`: addresses and CIDR blocks separated by commas; ValueError names a bad one."""
    found = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or CIDR block: {part[:60]!r}") from None
    return tuple(found)


def database_from_url(url: str, variable: str = "MONGO_URL", default: str = DEFAULT_DATABASE) -> str:
    """The database is the URL's path, as in Rocket.Chat's own MONGO_URL; `default` when there is none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ConfigError(f"{variable} is not a valid MongoDB URL") from None
    if parts.scheme not in ("mongodb", "mongodb+srv") or not parts.netloc:
        raise ConfigError(f"{variable} must start with mongodb:// or mongodb+srv:// and name a host")
    name = parts.path.lstrip("/")
    if not name:
        return default
    if any(c in name for c in '/\\. "$') or len(name) > 63:
        raise ConfigError(f"{variable} names an invalid database in its path")
    return name


def _default_text(s: Setting) -> str:
    return s.shown_default or f"`{s.default}`"


def help_text() -> str:
    """The environment section of `--help`, from the table."""
    lines = ["environment:"]
    for s in TABLE:
        text = s.help.replace("`", "")
        default = _default_text(s).replace("`", "")
        lines.append(f"  {s.variable}")
        words, line = f"{text} (default: {default})".split(), "     "
        for word in words:
            if len(line) + len(word) + 1 > 110:
                lines.append(line)
                line = "     "
            line += " " + word
        lines.append(line)
    return "\n".join(lines) + "\n"


def markdown_list() -> str:
    """The README's list of settings, from the table: one item a setting, wrapped at 120 columns (a table's rows
    ran to 600 characters)."""
    items = []
    for s in TABLE:
        text = f"- `{s.variable}` (default: {_default_text(s)}): {s.help}"
        items.append(textwrap.fill(text, width=120, subsequent_indent="  ", break_long_words=False))
    return "\n".join(items) + "\n"


README_MARKERS = ("<!-- settings:begin -->\n", "<!-- settings:end -->")


def update_readme(path: str) -> None:
    """Rewrite the table between the README's markers (`make readme`)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    before, rest = text.split(README_MARKERS[0], 1)
    _, after = rest.split(README_MARKERS[1], 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(before + README_MARKERS[0] + markdown_list() + README_MARKERS[1] + after)
