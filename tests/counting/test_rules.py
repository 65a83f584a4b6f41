"""A rule means the same three ways: as MongoDB's find filter, as the aggregation expression inside the counting
$group, and as the Python test applied to change-stream documents."""

from __future__ import annotations

import pytest

from engagement_svc.counting import rules
from engagement_svc.counting.catalog import BOT_MESSAGE
from engagement_svc.rocketchat.documents import BOT_USER, MESSAGE_SENT

DOCS = [
    {"_id": 1},
    {"_id": 2, "t": "uj"},
    {"_id": 3, "t": None},
    {"_id": 4, "t": ""},
    {"_id": 5, "_hidden": True},
    {"_id": 6, "_hidden": False},
    {"_id": 7, "_hidden": 1},  # not the boolean true: MongoDB compares types
    {"_id": 8, "_hidden": "true"},
    {"_id": 9, "_hidden": None},
    {"_id": 10, "t": "rm", "_hidden": True},
    {"_id": 11, "bot": {"i": "x"}, "u": {"_id": "rocket.cat"}},
    {"_id": 12, "u": {"_id": "user1"}, "tmid": "abc"},
    {"_id": 13, "u": {}},
    {"_id": 14, "roles": "anonymous"},
    {"_id": 15, "kind": 1.0},
    {"_id": 16, "kind": 1},
    {"_id": 17, "kind": "1"},
    {"_id": 18, "roles": ["user", "anonymous"]},
    {"_id": 19, "roles": ["user", "bot"], "type": "user"},
    {"_id": 20, "roles": [], "type": "bot"},
    {"_id": 21, "roles": ["app"], "type": "app"},
    {"_id": 22, "roles": [["bot"]]},
    {"_id": 23, "u": {"_id": ["user1"]}},
]
RULES = [
    MESSAGE_SENT,
    {"t": {"$exists": True}},
    {"_hidden": True},
    {"_hidden": {"$ne": True}},
    {"t": None},
    {"t": {"$ne": None}},
    {"t": {"$in": ["uj", "rm"]}},
    {"t": {"$nin": ["uj", "rm"]}},
    {"u._id": "rocket.cat"},
    {"u._id": {"$exists": False}},
    {"$or": [{"bot": {"$exists": True}}, {"u._id": {"$in": ["rocket.cat", "user1"]}}]},
    {"$and": [{"t": {"$exists": False}}, {"tmid": {"$exists": True}}]},
    {"kind": 1},
    {"kind": {"$in": [1]}},
    {"roles": {"$ne": "anonymous"}},
    BOT_USER,
    {"roles": "bot"},
    {"roles": {"$nin": ["bot", "anonymous"]}},
    {},
]


@pytest.fixture(scope="module")
def collection(sync_client):
    coll = sync_client.rules_test.docs
    coll.drop()
    coll.insert_many([dict(d) for d in DOCS])
    yield coll
    sync_client.drop_database("rules_test")


@pytest.mark.parametrize("rule", RULES, ids=[str(r) for r in RULES])
def test_find_expression_and_python_agree(collection, rule):
    by_find = sorted(d["_id"] for d in collection.find(rule, {"_id": 1}))
    by_expression = sorted(
        d["_id"]
        for d in collection.aggregate([{"$match": {"$expr": rules.as_expression(rule)}}, {"$project": {"_id": 1}}])
    )
    by_python = sorted(d["_id"] for d in DOCS if rules.matches(rule, d))
    assert by_find == by_expression == by_python


@pytest.mark.parametrize("bots", [frozenset(), frozenset({"user1"}), frozenset({"rocket.cat", "user1", "x"})])
def test_a_rule_with_a_parameter_agrees_three_ways(collection, bots):
    params = {"bots": bots}
    by_find = sorted(d["_id"] for d in collection.find(rules.as_query(BOT_MESSAGE, params), {"_id": 1}))
    expression = rules.as_expression(BOT_MESSAGE, params)
    by_expression = sorted(
        d["_id"] for d in collection.aggregate([{"$match": {"$expr": expression}}, {"$project": {"_id": 1}}])
    )
    by_python = sorted(d["_id"] for d in DOCS if rules.matches(BOT_MESSAGE, d, params))
    assert by_find == by_expression == by_python


def test_fields_a_rule_reads():
    assert rules.fields(MESSAGE_SENT) == {"t", "_hidden"}
    assert rules.fields({"$or": [{"bot": {"$exists": True}}, {"u._id": "x"}]}) == {"bot", "u._id"}


def test_an_unsupported_operator_is_refused_when_the_rule_is_read():
    with pytest.raises(ValueError):
        rules.as_expression({"ts": {"$gt": 1}})
    with pytest.raises(ValueError):
        rules.matches({"ts": {"$regex": "x"}}, {"ts": "x"})


def test_a_large_parameter_is_searched_as_a_tree_and_agrees_three_ways(sync_client):
    """500 ids (more than `$in` is asked to compare one by one): the search tree of `$lt` tests finds exactly the
    members, whatever the field holds: ids of every length and case, non-ASCII ones, neighbours that are not
    members, numbers, null, arrays, a missing author."""
    import random

    rng = random.Random(5)
    alphabet = "aZ09._-\u00e9\u00df\u4e2d\U0001f600"
    bots = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 9))) for _ in range(500)})
    members = bots[::3]
    assert len(members) > rules.SCAN_AT_MOST
    authors: list = [*bots, "", "zzzz", "\U0010ffff", 7, 7.5, None, ["x", members[3]], [bots[1]], [], {"a": 1}]
    docs = [{"_id": i, "u": {"_id": a}} for i, a in enumerate(authors)] + [{"_id": -1}, {"_id": -2, "u": {}}]
    coll = sync_client.rules_test.tree
    coll.drop()
    coll.insert_many(docs)
    try:
        params = {"bots": frozenset(members)}
        expression = rules.as_expression(BOT_MESSAGE, params)
        assert "$cond" in str(expression)  # searched as a tree
        by_find = sorted(d["_id"] for d in coll.find(rules.as_query(BOT_MESSAGE, params), {"_id": 1}))
        by_expression = sorted(
            d["_id"] for d in coll.aggregate([{"$match": {"$expr": expression}}, {"$project": {"_id": 1}}])
        )
        by_python = sorted(d["_id"] for d in docs if rules.matches(BOT_MESSAGE, d, params))
        assert by_find == by_expression == by_python
        assert len(by_find) == len(members) + 1  # and the array holding a member
    finally:
        coll.drop()
