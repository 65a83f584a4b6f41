"""A MongoDB failure in one word, and a refusal of the credentials remembered per application until a command
goes through."""

from __future__ import annotations

from typing import Any, cast

from pymongo.errors import AutoReconnect, NetworkTimeout, OperationFailure, ServerSelectionTimeoutError

from engagement_svc.mongo_errors import DatabaseProblems


def test_each_failure_in_a_word_and_a_refusal_remembered_until_a_command_succeeds():
    problems, other_app = DatabaseProblems(), DatabaseProblems()
    assert problems.of(NetworkTimeout("timed out")) == "timeout"
    assert problems.of(TimeoutError()) == "timeout"
    assert problems.of(AutoReconnect("connection pool paused")) == "unavailable"
    assert problems.of(OperationFailure("Authentication failed.", code=18)) == "auth_failed"
    assert problems.of(ServerSelectionTimeoutError("... Authentication failed ...")) == "auth_failed"
    # right after a refusal, what PyMongo says next is that refusal
    assert problems.of(AutoReconnect("connection pool paused")) == "auth_failed"
    assert problems.of(TimeoutError()) == "auth_failed"
    assert other_app.of(TimeoutError()) == "timeout"  # another application saw nothing
    problems.succeeded(cast(Any, None))
    assert problems.of(TimeoutError()) == "timeout"
    assert problems.of(AutoReconnect("connection pool paused")) == "unavailable"
