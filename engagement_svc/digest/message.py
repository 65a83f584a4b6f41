"""The digest as a Rocket.Chat incoming webhook's message: `text` (the headline) and `attachments`, each with
`fields` of `title`, `value` and `short` (Rocket.Chat's own message format, shown as a card with two columns)."""

from __future__ import annotations

from typing import Any

from engagement_svc.digest.figures import Digest, Figure

COLOR = "#1d74f5"  # Rocket.Chat's blue: the card's side bar


def change(value: float, previous: float, relative: bool = True) -> str:
    """`+12%`, `-3%` against the previous period (rounded half away from zero), `new` when there was none before;
    a difference (`+2`, `-3`, `0`) when not `relative`."""
    if not relative:
        diff = value - previous
        return f"{diff:+g}" if diff else "0"
    if previous == 0:
        return "new" if value else "0%"
    percent = (value - previous) * 100 / previous
    rounded = int(abs(percent) + 0.5) * (1 if percent >= 0 else -1)
    return f"{rounded:+d}%" if rounded else "0%"


def number(value: float, decimals: int = 0) -> str:
    """1,234 or 40.3: thousands separated, as many decimals as the figure has."""
    return f"{value:,.{decimals}f}"


def field(figure: Figure) -> dict[str, Any]:
    shown = f"{number(figure.value, figure.decimals)} ({change(figure.value, figure.previous, figure.relative)})"
    return {"title": figure.title, "value": shown, "short": True}


def payload(digest: Digest) -> dict[str, Any]:
    period = digest.period
    text = f"*Engagement digest* of {period.describe()}, against the {period.days} days before"
    rooms = [
        {
            "title": f"{i}. {'#' if room.kind == 'c' else ''}{room.name}{' (private)' if room.kind == 'p' else ''}",
            "value": f"{number(room.messages)} messages ({change(room.messages, room.previous)})",
            "short": False,
        }
        for i, room in enumerate(digest.rooms, 1)
    ]
    return {
        "text": text,
        "attachments": [
            {"title": "Activity", "color": COLOR, "fields": [field(f) for f in digest.figures]},
            {
                "title": "Top five rooms",
                "color": COLOR,
                "fields": rooms or [{"title": "No room had a message", "value": "-", "short": False}],
            },
        ],
    }
