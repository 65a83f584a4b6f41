"""The catalog of metrics: each a name and one rule for what it counts, in one source collection.

A metric's rule is the single written definition of what counts (the `$match`/`$cond` used to count closed time
and the test applied to change-stream events both come from it, see `rules`). Counts are kept per key (a
document field, e.g. the room or the author) and per UTC slot of the metric's time field, which answers both
sums (how many messages) and distinct keys (how many users) over any span. What a key stands for (a room of
some type) is decided when counts are read, because it can change after a message was counted.

A metric may instead count intervals (`ends` set): a document covers [its time, the first of its `ends` that is a
date, else now), and a key counts in every slot the interval touches (a user is active in the slots a session
covers). Such a document is found for a day through its time field or `also_field` (when it was written, for the
copies Rocket.Chat makes of sessions still open), at most `lookback_days` before that day, and counts on a day
only within that bound, so that every reading of a day finds the same documents. Its kept days keep their
history: the source forgetting documents (sessions' 45-day TTL) is not a change.

A key may have a second part (`second`): the room and the author of a message, the user and the client of a
session, kept as one key "first PART second". Its class is then decided by one part (the room's type, or the
client), and a distinct count counts one part (`subject`: the authors, the users).

A metric may also have a flag: a second rule that splits each key's counts in two (a room's messages by people
and by bots). A flagged document is kept under its key plus FLAG and the flag's name, so one scan and one kept
day answer "with", "without" and "only" the flagged documents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engagement_svc.counting import rules
from engagement_svc.mongo_types import Document
from engagement_svc.rocketchat import rooms
from engagement_svc.rocketchat.documents import (
    AUTHOR_FIELD,
    BOT_FIELD,
    BOT_USER,
    COUNTED_ROOM_TYPES,
    MESSAGE_SENT,
    SESSION_COUNTED,
    SESSION_DEVICE,
    SESSION_ENDS,
    SESSION_USER,
    USER_COUNTED,
)

FLAG = rooms.FLAG  # cannot occur in an id: "GENERAL\x1fbot", GENERAL's bot messages (defined here for reports)
PART = rooms.PART  # cannot occur in an id either: "GENERAL\x1eada", ada's messages in GENERAL
BOTS_CHOICES = ("include", "exclude", "only")
BOT_AUTHORS = rules.Param("bots")  # the ids of the users BOT_USER finds, read when counting
BOT_MESSAGE = {"$or": [{BOT_FIELD: {"$exists": True}}, {AUTHOR_FIELD: {"$in": BOT_AUTHORS}}]}


@dataclass(frozen=True)
class SecondPart:
    """A key's second part: a field's text, or (with `values`) what its value stands for, `default` for any other
    value or none (a session's client from its device type)."""

    field: str
    values: Mapping[str, str] | None = None
    default: str = ""

    def of(self, doc: Mapping[str, Any]) -> str | None:
        found = rules.value(doc, self.field)
        if self.values is None:
            return found if isinstance(found, str) else None
        return self.values.get(found, self.default) if isinstance(found, str) else self.default

    def expression(self) -> Document:
        """The same as an aggregation expression (null where `of` is None)."""
        path = "$" + self.field
        if self.values is None:
            return {"$cond": [{"$eq": [{"$type": path}, "string"]}, path, None]}
        by_part: dict[str, list[str]] = {}
        for value, part in self.values.items():
            by_part.setdefault(part, []).append(value)
        branches = [{"case": {"$in": [path, sorted(values)]}, "then": part} for part, values in sorted(by_part.items())]
        return {"$switch": {"branches": branches, "default": self.default}}


@dataclass(frozen=True)
class Metric:
    name: str
    collection: str
    time_field: str
    key_field: str
    rule: rules.Rule
    # What a key stands for: "rooms" (room ids, or compound keys whose first part is the room: the class is the
    # room's type, looked up when read), "users" (user ids, one class) or "parts" (compound keys whose class is
    # their second part: a session's client); and which classes count when a report asks for the metric's total.
    keys: str = "rooms"
    counted: tuple[str, ...] = COUNTED_ROOM_TYPES
    flag: tuple[str, rules.Rule] | None = None  # (name, rule): documents kept apart under key + FLAG + name
    version: int = 1  # part of every kept count's identity: bump it when the rule changes, and all is recounted
    time_indexed: bool = True  # Rocket.Chat indexes the time field (else days are checked in one scan)
    user_field: str = AUTHOR_FIELD  # where a counted document names a user (the days a bot-set change touches)
    ends: tuple[str, ...] = ()  # an interval metric: the fields that may end a document's interval, in order
    also_field: str | None = None  # an interval metric's second indexed time (when the document was written)
    lookback_days: int = 0  # an interval counts at most this many days after the later of its two times
    second: SecondPart | None = None  # a compound key: key_field's text, PART, this part
    subject: int = 0  # of a compound key, the part a distinct count counts (0: the first, 1: the second)
    # Counted by the start-up backfill; False: a closed day is counted when first asked. The compound metrics are
    # read only by the service's own endpoints and keep a key per room and author (or user and client): a server
    # that never asks for them pays nothing for them.
    backfilled: bool = True
    watched_fields: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        rules.as_expression(self.rule)  # an unsupported operator fails at import, not on a live request
        watched = rules.fields(self.rule) | {self.time_field, self.key_field, *self.ends}
        if self.second is not None:
            watched.add(self.second.field)
        if self.also_field is not None:
            watched.add(self.also_field)
        if self.flag is not None:
            rules.as_expression(self.flag[1])
            watched |= rules.fields(self.flag[1])
        object.__setattr__(self, "watched_fields", frozenset(watched))

    @property
    def is_interval(self) -> bool:
        return bool(self.ends)

    @property
    def keeps_history(self) -> bool:
        """Kept days outlive their documents: deletions in the source are not looked for."""
        return self.is_interval

    @property
    def uses_params(self) -> bool:
        return rules.uses_params(self.rule) or (self.flag is not None and rules.uses_params(self.flag[1]))

    def _plain_key(self) -> str | Document:
        """The key before any flag, as an aggregation expression (null when a compound key lacks a part)."""
        if self.second is None:
            return "$" + self.key_field
        first = "$" + self.key_field
        return {
            "$let": {
                "vars": {"second": self.second.expression()},
                "in": {
                    "$cond": [
                        {"$and": [{"$eq": [{"$type": first}, "string"]}, {"$eq": [{"$type": "$$second"}, "string"]}]},
                        {"$concat": [first, PART, "$$second"]},
                        None,
                    ]
                },
            }
        }

    def key_expression(self, params: rules.Params) -> str | Document:
        """The key a document is kept under, as an aggregation expression."""
        plain = self._plain_key()
        if self.flag is None:
            return plain
        name, rule = self.flag
        return {"$cond": [rules.as_expression(rule, params), {"$concat": [plain, FLAG + name]}, plain]}

    @property
    def flag_param(self) -> str | None:
        """When the flag is decided by the key alone (`{key_field: {"$in": a parameter}}`: a session's user is a
        bot), the parameter's name: counting then groups by the plain key and flags the counted keys in Python
        (`key_flagger`), instead of MongoDB testing every document against the parameter's values."""
        if self.flag is None or len(self.flag[1]) != 1:
            return None
        condition = self.flag[1].get(self.key_field)
        if (
            isinstance(condition, Mapping)
            and len(condition) == 1
            and isinstance(arg := condition.get("$in"), rules.Param)
        ):
            return arg.name
        return None

    def counting_key(self, params: rules.Params) -> str | Document:
        """The key a counting aggregation groups by: the plain key when `flag_param` is set, else the kept key."""
        return self._plain_key() if self.flag_param is not None else self.key_expression(params)

    def key_flagger(self, params: rules.Params) -> Callable[[str], str] | None:
        """For a `flag_param` metric, what turns a counted plain key into the kept key (the same as `key_of`)."""
        name = self.flag_param
        if name is None or self.flag is None:
            return None
        flagged, suffix = params.get(name, frozenset()), FLAG + self.flag[0]
        if self.second is not None:  # the flag is the first part's (the user of a user's client)
            return lambda key: key + suffix if key.split(PART, 1)[0] in flagged else key
        return lambda key: key + suffix if key in flagged else key

    def reflagged(self, key: str, params: rules.Params) -> str:
        """A kept key flagged again by the current parameters (a user who became a bot), when the flag is the
        key's own (`flag_param`); else the key as it is."""
        flagger = self.key_flagger(params)
        return key if flagger is None else flagger(unflagged(key))

    def key_of(self, doc: Mapping[str, Any], params: rules.Params) -> str | None:
        """The key a document (from a change stream) is kept under; None when it has none."""
        key = rules.value(doc, self.key_field)
        if not isinstance(key, str):
            return None
        if self.second is not None:
            part = self.second.of(doc)
            if part is None:
                return None
            key = key + PART + part
        if self.flag is not None and rules.matches(self.flag[1], doc, params):
            return key + FLAG + self.flag[0]
        return key

    def counted_for(self, flagged: str = "include") -> tuple[str, ...]:
        """The classes that count with the flagged documents included, excluded, or only them."""
        if self.flag is None:
            return self.counted
        marked = tuple(kind + FLAG + self.flag[0] for kind in self.counted)
        return {"include": self.counted + marked, "exclude": self.counted, "only": marked}[flagged]


@dataclass(frozen=True)
class ParamSource:
    """Where a rule's parameter comes from: the ids of the documents of `collection` that `rule` matches (the
    counted documents name them in their metric's `user_field`)."""

    collection: str
    rule: rules.Rule


PARAM_SOURCES = {BOT_AUTHORS.name: ParamSource("users", BOT_USER)}


def unflagged(key: str) -> str:
    """The key a kept key belongs to (a room id, whether the counts are its bots' or its people's)."""
    return key.split(FLAG, 1)[0]


def subjects(metric: Metric) -> Callable[[str], str] | None:
    """For a compound key, what turns a kept key into the part a distinct count counts (an author, a user); None
    for a plain key (distinct keys are distinct subjects)."""
    if metric.second is None:
        return None
    part = metric.subject
    return lambda key: (key.split(FLAG, 1)[0] if FLAG in key else key).split(PART, 2)[part]


MESSAGES = Metric("messages", "rocketchat_message", "ts", "rid", MESSAGE_SENT, flag=("bot", BOT_MESSAGE), version=2)

# Users by when their account was made, a bot (type bot or app, or role bot) flagged as such.
NEW_USERS = Metric(
    "new_users",
    "users",
    "createdAt",
    "_id",
    USER_COUNTED,
    "users",
    ("user",),
    ("bot", BOT_USER),
    time_indexed=False,
    user_field="_id",
)

# Users active in a slot: the sessions covering it (Rocket.Chat's 01:05 copies of open sessions are found by
# their `createdAt`); a bot's sessions flagged by its user id.
SESSION_LOOKBACK_DAYS = 3
ACTIVE_USERS = Metric(
    "active_users",
    "rocketchat_sessions",
    "loginAt",
    SESSION_USER,
    SESSION_COUNTED,
    "users",
    ("user",),
    ("bot", {SESSION_USER: {"$in": BOT_AUTHORS}}),
    user_field=SESSION_USER,
    ends=SESSION_ENDS,
    also_field="createdAt",
    lookback_days=SESSION_LOOKBACK_DAYS,
)

# Messages sent per room and author ("people posting", posters of a room, members' messages): the class is the
# room's type, a distinct count counts authors.
POSTS = Metric(
    "posts",
    "rocketchat_message",
    "ts",
    "rid",
    MESSAGE_SENT,
    flag=("bot", BOT_MESSAGE),
    second=SecondPart(AUTHOR_FIELD),
    subject=1,
    backfilled=False,
)

# Users active in a slot through a client (web, desktop, mobile, other): the sessions covering it, keyed by user
# and client; the class is the client, a distinct count counts users.
CLIENTS = ("web", "desktop", "mobile", "other")
CLIENT_OF_DEVICE = {
    "browser": "web",
    "mobile": "web",
    "tablet": "web",
    "desktop-app": "desktop",
    "mobile-app": "mobile",
}
CLIENT_SESSIONS = Metric(
    "client_sessions",
    "rocketchat_sessions",
    "loginAt",
    SESSION_USER,
    SESSION_COUNTED,
    "parts",
    CLIENTS,
    ("bot", {SESSION_USER: {"$in": BOT_AUTHORS}}),
    user_field=SESSION_USER,
    ends=SESSION_ENDS,
    also_field="createdAt",
    lookback_days=SESSION_LOOKBACK_DAYS,
    second=SecondPart(SESSION_DEVICE, CLIENT_OF_DEVICE, "other"),
    backfilled=False,
)

CATALOG = {m.name: m for m in (MESSAGES, NEW_USERS, ACTIVE_USERS, POSTS, CLIENT_SESSIONS)}
