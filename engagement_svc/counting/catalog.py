"""The catalog of metrics: each a name and one rule for what it counts, in one source collection.

A metric's rule is the single written definition of what counts (the `$match`/`$cond` used to count closed time
and the test applied to change-stream events both come from it, see `rules`). Counts are kept per key (a
document field, e.g. the room or the author) and per UTC slot of the metric's time field, which answers both
sums (how many messages) and distinct keys (how many users) over any span. What a key stands for (a room of
some type) is decided when counts are read, because it can change after a message was counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engagement_svc.counting import rules
from engagement_svc.rocketchat.documents import COUNTED_ROOM_TYPES, MESSAGE_SENT


@dataclass(frozen=True)
class Metric:
    name: str
    collection: str
    time_field: str
    key_field: str
    rule: rules.Rule
    # What a key stands for: "rooms" (room ids, whose class is the room's type, looked up when read) or "users"
    # (user ids, one class); and which classes count when a report asks for the metric's total.
    keys: str = "rooms"
    counted: tuple[str, ...] = COUNTED_ROOM_TYPES
    version: int = 1  # part of every kept count's identity: bump it when the rule changes, and all is recounted
    watched_fields: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        rules.as_expression(self.rule)  # an unsupported operator fails at import, not on a live request
        watched = rules.fields(self.rule) | {self.time_field, self.key_field}
        object.__setattr__(self, "watched_fields", frozenset(watched))


MESSAGES = Metric("messages", "rocketchat_message", "ts", "rid", MESSAGE_SENT)

CATALOG = {m.name: m for m in (MESSAGES,)}
