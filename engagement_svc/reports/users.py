"""The users tab's answers, from counts to the exact JSON of each endpoint. No database code here."""

from __future__ import annotations

from collections.abc import Sequence

from engagement_svc.reports.messages import messages_sent_json


def new_users_json(midnights: Sequence[int], totals: Sequence[int]) -> str:
    """messages-sent's shape and rules (days newest first, the period's and yesterday's variations), in users."""
    return messages_sent_json(midnights, totals, field="users")
