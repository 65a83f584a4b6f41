"""The catalog's metrics on hand-written documents: which key a document is kept under (a bot's apart), which
classes count for each bots choice, and which fields a change stream must watch."""

from __future__ import annotations

import pytest

from engagement_svc.counting.catalog import (
    ACTIVE_USERS,
    CATALOG,
    CLIENT_SESSIONS,
    MESSAGES,
    NEW_USERS,
    PART,
    POSTS,
    Metric,
    subjects,
    unflagged,
)

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
        (
            POSTS,
            {"c", "p", "d", "c" + BOT, "p" + BOT, "d" + BOT},
            {"c", "p", "d"},
            {"c" + BOT, "p" + BOT, "d" + BOT},
        ),
        (
            CLIENT_SESSIONS,
            {"web", "desktop", "mobile", "other", *(c + BOT for c in ("web", "desktop", "mobile", "other"))},
            {"web", "desktop", "mobile", "other"},
            {c + BOT for c in ("web", "desktop", "mobile", "other")},
        ),
    ],
)
def test_the_classes_that_count_for_each_bots_choice(metric, include, exclude, only):
    assert set(metric.counted_for("include")) == include == set(metric.counted_for())
    assert set(metric.counted_for("exclude")) == exclude
    assert set(metric.counted_for("only")) == only


def test_what_each_metric_is_and_watches():
    assert set(CATALOG) == {"messages", "new_users", "active_users", "posts", "client_sessions"}
    assert (MESSAGES.collection, MESSAGES.time_field, MESSAGES.keys) == ("rocketchat_message", "ts", "rooms")
    assert {"ts", "rid", "t", "_hidden", "bot", "u._id"} <= MESSAGES.watched_fields
    assert not MESSAGES.is_interval and not MESSAGES.keeps_history and MESSAGES.uses_params
    assert ACTIVE_USERS.is_interval and ACTIVE_USERS.keeps_history and ACTIVE_USERS.keys == "users"
    assert NEW_USERS.collection == "users" and not NEW_USERS.is_interval
    assert {"ts", "rid", "t", "_hidden", "bot", "u._id"} <= POSTS.watched_fields and POSTS.keys == "rooms"
    assert "device.type" in CLIENT_SESSIONS.watched_fields and CLIENT_SESSIONS.keeps_history
    assert CLIENT_SESSIONS.keys == "parts" and CLIENT_SESSIONS.counted == ("web", "desktop", "mobile", "other")


def test_a_message_is_also_kept_under_its_room_and_author_a_bots_apart():
    person = {"rid": "GENERAL", "u": {"_id": "Person00000000001"}}
    assert POSTS.key_of(person, PARAMS) == "GENERAL" + PART + "Person00000000001"
    assert POSTS.key_of({**person, "bot": {"i": "x"}}, PARAMS) == "GENERAL" + PART + "Person00000000001" + BOT
    assert POSTS.key_of({**person, "u": {"_id": "rocket.cat"}}, PARAMS) == "GENERAL" + PART + "rocket.cat" + BOT
    assert POSTS.key_of({"rid": "GENERAL"}, PARAMS) is None  # no author: counted nowhere (nor is it by rooms' key)
    assert POSTS.key_of({**person, "u": {"_id": 5}}, PARAMS) is None
    assert POSTS.key_of({**person, "rid": None}, PARAMS) is None
    subject = subjects(POSTS)
    assert subject is not None and subjects(MESSAGES) is None and subjects(ACTIVE_USERS) is None
    assert subject("GENERAL" + PART + "ada" + BOT) == "ada" == subject("GENERAL" + PART + "ada")


@pytest.mark.parametrize(
    "device, client",
    [
        ({"type": "browser"}, "web"),
        ({"type": "mobile"}, "web"),
        ({"type": "tablet"}, "web"),
        ({"type": "desktop-app"}, "desktop"),
        ({"type": "mobile-app"}, "mobile"),
        ({"type": "other"}, "other"),
        ({"type": ""}, "other"),
        ({"type": 3}, "other"),
        ({}, "other"),
        (None, "other"),
    ],
)
def test_a_session_is_kept_under_its_user_and_client_a_bot_users_apart(device, client):
    doc = {"userId": "Person00000000001", **({"device": device} if device is not None else {})}
    assert CLIENT_SESSIONS.key_of(doc, PARAMS) == "Person00000000001" + PART + client
    bot = {**doc, "userId": "Bot00000000000001"}
    assert CLIENT_SESSIONS.key_of(bot, PARAMS) == "Bot00000000000001" + PART + client + BOT
    flagger = CLIENT_SESSIONS.key_flagger(PARAMS)  # counted by the plain key, flagged by the user part
    assert flagger is not None and flagger("Bot00000000000001" + PART + client) == CLIENT_SESSIONS.key_of(bot, PARAMS)
    assert CLIENT_SESSIONS.reflagged("Person00000000001" + PART + client + BOT, PARAMS) == (
        "Person00000000001" + PART + client
    )  # a bot no more: its kept history moves to the people
    subject = subjects(CLIENT_SESSIONS)
    assert subject is not None and subject("Bot00000000000001" + PART + client + BOT) == "Bot00000000000001"


def test_a_rule_with_an_unsupported_operator_fails_when_the_metric_is_made():
    with pytest.raises(ValueError):
        Metric("bad", "rocketchat_message", "ts", "rid", {"ts": {"$where": "1"}})
