"""The users tab's answers, from counts to the exact JSON of each endpoint. No database code here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date

from engagement_svc.reports.messages import messages_sent_json


def new_users_json(midnights: Sequence[int], totals: Sequence[int]) -> str:
    """messages-sent's shape and rules (days newest first, the period's and yesterday's variations), in users."""
    return messages_sent_json(midnights, totals, field="users")


def _dumps(body: dict) -> str:
    return json.dumps(body, separators=(",", ":"))


class ActiveDay:
    """One day of active users: the day, its users (ids, sorted: the list is kept as given, not copied), and the
    distinct users of the 7 and 30 days ending with it."""

    __slots__ = ("day", "mau", "users", "wau")

    def __init__(self, day: date, users: list[str], wau: int, mau: int):
        self.day, self.users, self.wau, self.mau = day, users, wau, mau

    @property
    def nbytes(self) -> int:
        """About the memory it holds of its own (the ids are the kept days' strings: 8 bytes each)."""
        return 100 + 8 * len(self.users)


def window_distinct(days: Sequence[Iterable[str]], widths: Sequence[int]) -> list[tuple[int, ...]]:
    """Per day, the distinct ids in each window of `widths` days ending with it (7 and 30: WAU and MAU), in one
    pass: each id's last day is kept, and per width how many ids were last seen before its window. One dict
    lookup per id and day, where a union per window took 300,000 insertions per MAU day (20 s for a year at
    20M messages)."""
    last: dict[str, int] = {}
    on_day = [0] * len(days)  # ids last seen on that day, so far
    before = [0] * len(widths)  # ids last seen before each width's window
    total = 0
    out: list[tuple[int, ...]] = []
    for i, ids in enumerate(days):
        for w, width in enumerate(widths):
            if i - width >= 0:
                before[w] += on_day[i - width]  # that day leaves the window
        for key in ids:
            prev = last.get(key)
            if prev is None:
                total += 1
            elif prev != i:
                on_day[prev] -= 1
                for w, width in enumerate(widths):
                    if prev <= i - width:
                        before[w] -= 1
            else:
                continue
            on_day[i] += 1
            last[key] = i
        out.append(tuple(total - b for b in before))
    return out


def active_users_pieces(days: Sequence[ActiveDay]) -> Iterator[str]:
    """One row per day, newest first, under `month` (Rocket.Chat's name), with `wau` and `mau`: the JSON text
    in pieces, a day at a time (joined, exactly what one `json.dumps` of the whole would write)."""
    yield '{"month":['
    for i, d in enumerate(reversed(days)):
        row = {
            "day": d.day.day,
            "month": d.day.month,
            "year": d.day.year,
            "users": len(d.users),
            "usersList": d.users,
            "wau": d.wau,
            "mau": d.mau,
        }
        yield ("," if i else "") + _dumps(row)
    yield '],"success":true}'


def active_users_json(days: Sequence[ActiveDay]) -> str:
    return "".join(active_users_pieces(days))


def by_hour_rows(days: Sequence[date], hours: Sequence[Sequence[int]]) -> list[dict]:
    """Every day x hour cell, newest day first, hour 23 to 0 within a day."""
    return [
        {"day": d.day, "month": d.month, "year": d.year, "hour": h, "users": users[h]}
        for d, users in zip(reversed(days), reversed(hours), strict=True)
        for h in range(23, -1, -1)
    ]


def by_hour_json(days: Sequence[date], hours: Sequence[Sequence[int]]) -> str:
    return _dumps({"week": by_hour_rows(days, hours), "success": True})


def hourly_rows(pairs: Sequence[int]) -> list[dict]:
    """Twelve two-hour rows of one day, hours 22, 20, ..., 0; `pairs[i]` is hours 2i and 2i + 1 together."""
    return [{"hour": 2 * i, "users": pairs[i]} for i in range(11, -1, -1)]


def hourly_json(pairs: Sequence[int]) -> str:
    return _dumps({"hours": hourly_rows(pairs), "success": True})


def weekly_rows(days: Sequence[date], users: Sequence[int]) -> list[dict]:
    """Seven days, newest first."""
    return [
        {"day": d.day, "month": d.month, "year": d.year, "users": n}
        for d, n in zip(reversed(days), reversed(users), strict=True)
    ]


def weekly_json(days: Sequence[date], users: Sequence[int]) -> str:
    return _dumps({"month": weekly_rows(days, users), "success": True})
