"""The catalog's metrics on hand-written documents: which key a document is kept under (a bot's apart), which
classes count for each bots choice, and which fields a change stream must watch."""

from __future__ import annotations

import pytest

from engagement_svc.counting.catalog import ACTIVE_USERS, CATALOG, MESSAGES, NEW_USERS, Metric, unflagged

BOT = "\x1fbot"
PARAMS = {"bots": frozenset({"rocket.cat", "Bot00000000000001"})}


def test_a_message_is_kept_under_its_room_a_bots_apart():
    person = {"rid": "GENERAL", "u": {"_id": "Person00000000001"}, "ts": None}
    assert MESSAGES.key_of(person, PARAMS) == "GENERAL"
    assert MESSAGES.key_of({**person, "u": {"_id": "rocket.cat"}}, PARAMS) == "GENERAL" + BOT
    assert MESSAGES.key_of({**person, "bot": {"i": "integration"}}, PARAMS) == "GENERAL" + BOT
    assert MESSAGES.key_of({"u": {"_id": "x"}}, PARAMS) is None  # no room: counted nowhere
    assert MESSAGES.key_of({"rid": 7, "u": {"_id": "x"}}, PARAMS) is None
    assert unflagged("GENERAL" + BOT) == "GENERAL" == unflagged("GENERAL")


def test_a_session_is_kept_under_its_user_a_bot_users_apart():
    assert ACTIVE_USERS.key_of({"userId": "Person00000000001"}, PARAMS) == "Person00000000001"
    assert ACTIVE_USERS.key_of({"userId": "Bot00000000000001"}, PARAMS) == "Bot00000000000001" + BOT
    assert ACTIVE_USERS.key_of({"userId": None}, PARAMS) is None
    flagger = ACTIVE_USERS.key_flagger(PARAMS)  # the same flag, applied in Python after counting
    assert flagger is not None
    assert [flagger(k) for k in ("Bot00000000000001", "Person00000000001")] == [
        "Bot00000000000001" + BOT,
        "Person00000000001",
    ]
    assert ACTIVE_USERS.counting_key(PARAMS) == "$userId"
    assert MESSAGES.key_flagger(PARAMS) is None and MESSAGES.counting_key(PARAMS) != "$rid"


@pytest.mark.parametrize(
    "metric, include, exclude, only",
    [
        (
            MESSAGES,
            {"c", "p", "d", "c" + BOT, "p" + BOT, "d" + BOT},
            {"c", "p", "d"},
            {"c" + BOT, "p" + BOT, "d" + BOT},
        ),
        (ACTIVE_USERS, {"user", "user" + BOT}, {"user"}, {"user" + BOT}),
    ],
)
def test_the_classes_that_count_for_each_bots_choice(metric, include, exclude, only):
    assert set(metric.counted_for("include")) == include == set(metric.counted_for())
    assert set(metric.counted_for("exclude")) == exclude
    assert set(metric.counted_for("only")) == only


def test_what_each_metric_is_and_watches():
    assert set(CATALOG) == {"messages", "new_users", "active_users"}
    assert (MESSAGES.collection, MESSAGES.time_field, MESSAGES.keys) == ("rocketchat_message", "ts", "rooms")
    assert {"ts", "rid", "t", "_hidden", "bot", "u._id"} <= MESSAGES.watched_fields
    assert not MESSAGES.is_interval and not MESSAGES.keeps_history and MESSAGES.uses_params
    assert ACTIVE_USERS.is_interval and ACTIVE_USERS.keeps_history and ACTIVE_USERS.keys == "users"
    assert NEW_USERS.collection == "users" and not NEW_USERS.is_interval


def test_a_rule_with_an_unsupported_operator_fails_when_the_metric_is_made():
    with pytest.raises(ValueError):
        Metric("bad", "rocketchat_message", "ts", "rid", {"ts": {"$where": "1"}})
