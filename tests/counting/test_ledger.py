"""The ledger on made-up days: what a change, a recount and a lost history owe, without a database."""

from __future__ import annotations

from engagement_svc.counting.catalog import ACTIVE_USERS, MESSAGES
from engagement_svc.counting.ledger import Ledger


def _ledger() -> Ledger:
    return Ledger({MESSAGES.name: MESSAGES, ACTIVE_USERS.name: ACTIVE_USERS})


def test_a_changed_day_is_dropped_from_the_state_database_and_recounted_if_kept():
    ledger = _ledger()
    ledger.changed(MESSAGES, 10, kept=False)
    ledger.changed(MESSAGES, 11, kept=True)
    assert (ledger.changes(MESSAGES, 10), ledger.changes(MESSAGES, 12)) == (1, 0)
    assert ledger.stale(MESSAGES) == {10, 11} and ledger.pending(MESSAGES) == {10, 11}
    ledger.forgotten(MESSAGES, {10, 11})
    assert ledger.stale(MESSAGES) == set() and ledger.pending(MESSAGES) == {11}  # still to recount
    assert ledger.start_recount(MESSAGES) == {11}
    assert ledger.start_recount(MESSAGES) == set() and ledger.pending(MESSAGES) == {11}  # owed while it runs
    ledger.recounted(MESSAGES, {11}, done=True)
    assert ledger.pending(MESSAGES) == set()


def test_a_failed_recount_is_owed_again():
    ledger = _ledger()
    ledger.owe(MESSAGES, {3, 4})
    ledger.forgotten(MESSAGES, {3, 4})
    days = ledger.start_recount(MESSAGES)
    ledger.recounted(MESSAGES, days, done=False)
    assert ledger.start_recount(MESSAGES) == {3, 4}


def test_a_metric_that_keeps_history_is_never_dropped_only_recounted():
    ledger = _ledger()
    assert ACTIVE_USERS.keeps_history
    ledger.changed(ACTIVE_USERS, 7, kept=False)
    ledger.owe(ACTIVE_USERS, {8})
    assert ledger.stale(ACTIVE_USERS) == set() and ledger.pending(ACTIVE_USERS) == {7, 8}
    assert ledger.pending(MESSAGES) == set()


def test_a_lost_history_is_told_until_restored():
    ledger = _ledger()
    ledger.lose_history("rocketchat_message")
    assert ledger.history_lost("rocketchat_message") and not ledger.history_lost("rocketchat_sessions")
    assert ledger.collections_lost() == ["rocketchat_message"]
    ledger.history_restored("rocketchat_message")
    assert ledger.collections_lost() == [] and not ledger.history_lost("rocketchat_message")


def test_each_change_is_counted_and_owed_days_add_up():
    ledger = _ledger()
    ledger.changed(MESSAGES, 10, kept=True)
    ledger.changed(MESSAGES, 10, kept=True)
    assert ledger.changes(MESSAGES, 10) == 2 and ledger.changes(MESSAGES, 11) == 0
    ledger.owe(MESSAGES, {1})
    ledger.owe(MESSAGES, {2})
    assert ledger.stale(MESSAGES) == {1, 2, 10}
    dirty = ledger.start_recount(MESSAGES)
    assert dirty == {1, 2, 10}
    ledger.owe(MESSAGES, {3})  # owed while the others are recounted
    ledger.recounted(MESSAGES, {1, 2}, done=False)
    assert ledger.start_recount(MESSAGES) == {1, 2, 3}
