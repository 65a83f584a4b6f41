"""A rule, written once as a MongoDB query document, read three ways: as a `$match`, as an aggregation
expression (to count matching documents inside a `$group` that also counts all of them), and as a Python test
applied to a document a change stream delivers.

Only the operators rules need are understood, and each means exactly what MongoDB means by it on the values
Rocket.Chat stores: `{field: value}`, `$exists`, `$ne`, `$in`, `$nin`, `$and`, `$or`. Anything else is a
programming error, caught when the catalog is imported. The list of an `$in` may be a `Param`: a set read from
Rocket.Chat when the rule is used (the ids of bot users, say), passed in `params`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engagement_svc.mongo_types import Document

Rule = Mapping[str, Any]  # a query document: field -> a value or {operator: argument}
Params = Mapping[str, frozenset[str]]
_MISSING = object()
NO_PARAMS: Params = {}


@dataclass(frozen=True)
class Param:
    """A set of values named in a rule and supplied when the rule is used."""

    name: str


def _resolve(arg: Any, params: Params) -> Any:
    return sorted(params.get(arg.name, ())) if isinstance(arg, Param) else arg


def uses_params(rule: Rule) -> bool:
    """Whether the rule names a `Param` (its answers change when the parameter's set does)."""
    for key, value in rule.items():
        if key in ("$and", "$or"):
            if any(uses_params(part) for part in value):
                return True
        elif isinstance(value, Mapping) and any(isinstance(arg, Param) for arg in value.values()):
            return True
    return False


def fields(rule: Rule) -> set[str]:
    """Every field the rule reads (so a change stream knows which updates can change its answer)."""
    found: set[str] = set()
    for key, value in rule.items():
        if key in ("$and", "$or"):
            for part in value:
                found |= fields(part)
        else:
            found.add(key)
    return found


def value(doc: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or None where there is none."""
    found = _get(doc, path)
    return None if found is _MISSING else found


def _get(doc: Mapping[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _equal(value: Any, wanted: Any, top: bool = True) -> bool:
    """MongoDB's equality on one field: an array matches when one of its elements does (one level deep)."""
    if value is _MISSING:
        return wanted is None
    if top and isinstance(value, list) and not isinstance(wanted, list):
        return any(_equal(v, wanted, False) for v in value)
    return type(value) is type(wanted) and value == wanted if isinstance(wanted, bool) else value == wanted


def _test(value: Any, condition: Any, params: Params) -> bool:
    if not (isinstance(condition, Mapping) and condition and all(k.startswith("$") for k in condition)):
        return _equal(value, condition)
    for op, arg in condition.items():
        if op == "$exists":
            ok = (value is not _MISSING) == bool(arg)
        elif op == "$ne":
            ok = not _equal(value, arg)
        elif op == "$in" and isinstance(arg, Param):
            found = params.get(arg.name, frozenset())
            ok = any(v in found for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
        elif op == "$in":
            ok = any(_equal(value, a) for a in arg)
        elif op == "$nin":
            ok = not any(_equal(value, a) for a in _resolve(arg, params))
        else:
            raise ValueError(f"unsupported operator in a rule: {op}")
        if not ok:
            return False
    return True


def matches(rule: Rule, doc: Mapping[str, Any], params: Params = NO_PARAMS) -> bool:
    """The rule applied to one document, as MongoDB's `find` would apply it."""
    for key, value in rule.items():
        if key == "$and":
            ok = all(matches(part, doc, params) for part in value)
        elif key == "$or":
            ok = any(matches(part, doc, params) for part in value)
        else:
            ok = _test(_get(doc, key), value, params)
        if not ok:
            return False
    return True


def _field_expression(path: str, condition: Any, params: Params) -> Document:
    ref = "$" + path
    if not (isinstance(condition, Mapping) and condition and all(k.startswith("$") for k in condition)):
        condition = {"$eq": condition}
    parts: list[Document] = []
    for op, arg in condition.items():
        if op == "$exists":
            parts.append({"$ne" if arg else "$eq": [{"$type": ref}, "missing"]})
        elif op in ("$eq", "$ne"):
            if isinstance(arg, (list, dict)):
                raise ValueError("rules compare single fields with scalars only")
            if arg is None:
                same = {"$in": [{"$type": ref}, ["missing", "null"]]}
            else:  # as in a find: an array matches when one of its elements does
                same = {"$or": [{"$eq": [ref, arg]}, {"$and": [{"$isArray": ref}, {"$in": [arg, ref]}]}]}
            parts.append(same if op == "$eq" else {"$not": [same]})
        elif op in ("$in", "$nin"):
            values = list(_resolve(arg, params))
            if any(isinstance(a, (list, dict)) or a is None for a in values):
                raise ValueError("rules test membership of scalars only")
            some = {"$gt": [{"$size": {"$setIntersection": [ref, values]}}, 0]}
            member = {"$or": [_one_of(ref, values), {"$and": [{"$isArray": ref}, some]}]}
            parts.append(member if op == "$in" else {"$not": [member]})
        else:
            raise ValueError(f"unsupported operator in a rule: {op}")
    return parts[0] if len(parts) == 1 else {"$and": parts}


SCAN_AT_MOST = 8  # values an `$in` expression compares one by one; more are searched as a tree


def _one_of(ref: str, values: list[Any]) -> Document:
    """Whether the field equals one of these values. MongoDB's `$in` expression compares them one by one, for
    every document: with 500 bot users that doubled the counting of messages. Strings are searched as a sorted
    tree of `$lt` tests instead (9 comparisons for 500) ending in a short `$in`, which is exact whatever the
    field holds: a value of another type is routed anywhere and equals nothing there."""
    if len(values) <= SCAN_AT_MOST or not all(isinstance(v, str) for v in values):
        return {"$in": [ref, values]}
    ordered = sorted(set(values))  # MongoDB compares strings bytewise in UTF-8: the order of Python's code points

    def tree(lo: int, hi: int) -> Document:
        if hi - lo <= SCAN_AT_MOST:
            return {"$in": [ref, ordered[lo:hi]]}
        mid = (lo + hi) // 2
        return {"$cond": [{"$lt": [ref, ordered[mid]]}, tree(lo, mid), tree(mid, hi)]}

    return tree(0, len(ordered))


def as_expression(rule: Rule, params: Params = NO_PARAMS) -> Document:
    """The rule as an aggregation expression that is true for exactly the documents `matches` (and a find)
    accepts, an array-valued field (a user's roles) matching when one of its elements does."""
    parts: list[Document] = []
    for key, value in rule.items():
        if key in ("$and", "$or"):
            parts.append({key: [as_expression(part, params) for part in value]})
        else:
            parts.append(_field_expression(key, value, params))
    if not parts:
        return {"$literal": True}
    return parts[0] if len(parts) == 1 else {"$and": parts}


def as_query(rule: Rule, params: Params = NO_PARAMS) -> Document:
    """The rule as a query document (a `$match`), its parameters filled in."""
    out: Document = {}
    for key, value in rule.items():
        if key in ("$and", "$or"):
            out[key] = [as_query(part, params) for part in value]
        elif isinstance(value, Mapping):
            out[key] = {op: _resolve(arg, params) for op, arg in value.items()}
        else:
            out[key] = value
    return out
