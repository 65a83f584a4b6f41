"""The dashboard's paths, under the names the tests use, as the reports declare them."""

from __future__ import annotations

from engagement_svc.reports import (
    active_users,
    channels_list,
    hourly,
    messages_sent,
    new_users,
    origin,
    top_five,
    users_by_hour,
    weekly,
)

MESSAGES_SENT_PATH = messages_sent.REPORT.path
ORIGIN_PATH = origin.REPORT.path
TOP_FIVE_PATH = top_five.REPORT.path
NEW_USERS_PATH = new_users.REPORT.path
ACTIVE_USERS_PATH = active_users.REPORT.path
BY_HOUR_PATH = users_by_hour.REPORT.path
HOURLY_PATH = hourly.REPORT.path
WEEKLY_PATH = weekly.REPORT.path
CHANNELS_LIST_PATH = channels_list.REPORT.path
