"""401 and 403 exactly as Rocket.Chat answers them, and checked before the parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.data import ADMIN_HEADERS, ADMIN_ID, ADMIN_TOKEN, USER_ID, USER_TOKEN
from tests.support.http import get_messages_sent, until
from tests.support.rocketchat import login_token, personal_access_token, user_doc

# Rocket.Chat 7.x/8.x's 401: both shapes at once (rocketchat-wire.md)
UNAUTHORIZED = {
    "success": False,
    "error": "You must be logged in to do this.",
    "status": "error",
    "message": "You must be logged in to do this.",
}
FORBIDDEN = {
    "success": False,
    "error": "User does not have the permissions required for this action [error-unauthorized]",
}
GOOD = {"start": "2023-05-21T00:00:00.000Z", "end": "2023-05-22T10:00:00.000Z"}


def add_admin(db, _id, token_docs, **extra):
    db.users.insert_one(user_doc(_id, extra.pop("username", "u" + _id.lower()), ["user", "admin"], token_docs, **extra))


async def test_valid_admin_gets_200(client):
    status, body = await get_messages_sent(client, GOOD)
    assert status == 200 and body["success"] is True


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-User-Id": ADMIN_ID},
        {"X-Auth-Token": ADMIN_TOKEN},
        {"X-User-Id": "", "X-Auth-Token": ""},
        {"X-User-Id": ADMIN_ID, "X-Auth-Token": "wrong-token"},
        {"X-User-Id": "NoSuchUser0000001", "X-Auth-Token": ADMIN_TOKEN},
        {"X-User-Id": USER_ID, "X-Auth-Token": ADMIN_TOKEN},  # another user's token
        {"X-User-Id": ADMIN_ID, "X-Auth-Token": ADMIN_TOKEN.upper()},
    ],
)
async def test_bad_credentials_get_401(client, headers):
    assert await get_messages_sent(client, GOOD, headers) == (401, UNAUTHORIZED)


async def test_raw_token_stored_unhashed_is_refused(client, db):
    # A token must match by its hash: the hashed value itself used as the token is not a credential.
    db.users.insert_one(
        user_doc("RawUser0000000001", "raw", ["admin"], [{"when": datetime.now(UTC), "hashedToken": "secret"}])
    )
    assert (await get_messages_sent(client, GOOD, {"X-User-Id": "RawUser0000000001", "X-Auth-Token": "secret"}))[
        0
    ] == 401


async def test_inactive_user_gets_401(client, db):
    add_admin(db, "Inactive000000001", [login_token("tok-inactive", datetime.now(UTC))], active=False)
    headers = {"X-User-Id": "Inactive000000001", "X-Auth-Token": "tok-inactive"}
    assert await get_messages_sent(client, GOOD, headers) == (401, UNAUTHORIZED)


@pytest.mark.parametrize("username", [None, ""])
async def test_user_without_username_gets_401(client, db, username):
    doc = user_doc("NoName00000000001", "x", ["admin"], [login_token("tok-noname", datetime.now(UTC))])
    if username is None:
        del doc["username"]
    else:
        doc["username"] = username
    db.users.insert_one(doc)
    headers = {"X-User-Id": "NoName00000000001", "X-Auth-Token": "tok-noname"}
    assert await get_messages_sent(client, GOOD, headers) == (401, UNAUTHORIZED)


async def test_login_token_expires_after_default_90_days(client, db):
    db.rocketchat_settings.delete_many({})  # no setting: Rocket.Chat's default of 90 days
    now = datetime.now(UTC)
    add_admin(db, "Fresh000000000001", [login_token("tok-89", now - timedelta(days=89, hours=23))])
    add_admin(db, "Stale000000000001", [login_token("tok-91", now - timedelta(days=90, minutes=1))])
    assert (await get_messages_sent(client, GOOD, {"X-User-Id": "Fresh000000000001", "X-Auth-Token": "tok-89"}))[
        0
    ] == 200
    assert await get_messages_sent(client, GOOD, {"X-User-Id": "Stale000000000001", "X-Auth-Token": "tok-91"}) == (
        401,
        UNAUTHORIZED,
    )


@pytest.mark.parametrize(
    "value, age_days, status",
    [
        (7, 6.9, 200),
        (7, 7.1, 401),
        ("3", 2.5, 200),
        ("3", 3.5, 401),
        (0, 89, 200),
        (-5, 91, 401),
        ("nonsense", 91, 401),
        (365, 300, 200),
    ],
)
async def test_login_expiration_setting_is_read(client, db, value, age_days, status):
    db.rocketchat_settings.update_one({"_id": "Accounts_LoginExpiration"}, {"$set": {"value": value}})
    add_admin(db, "Aged0000000000001", [login_token("tok-aged", datetime.now(UTC) - timedelta(days=age_days))])
    got, _ = await get_messages_sent(client, GOOD, {"X-User-Id": "Aged0000000000001", "X-Auth-Token": "tok-aged"})
    assert got == status


async def test_personal_access_token_never_expires(client, db):
    db.rocketchat_settings.update_one({"_id": "Accounts_LoginExpiration"}, {"$set": {"value": 1}})
    pat = personal_access_token("pat-raw-value")
    pat["createdAt"] = datetime(2015, 1, 1, tzinfo=UTC)
    add_admin(db, "Robot000000000001", [login_token("tok-old", datetime(2015, 1, 1, tzinfo=UTC)), pat])
    assert (await get_messages_sent(client, GOOD, {"X-User-Id": "Robot000000000001", "X-Auth-Token": "pat-raw-value"}))[
        0
    ] == 200
    assert (await get_messages_sent(client, GOOD, {"X-User-Id": "Robot000000000001", "X-Auth-Token": "tok-old"}))[
        0
    ] == 401


async def test_token_among_many_is_found(client, db):
    now = datetime.now(UTC)
    tokens = [login_token(f"tok-{i}", now - timedelta(days=200)) for i in range(300)]
    tokens.append(login_token("tok-current", now))
    add_admin(db, "Busy0000000000001", tokens)
    assert (await get_messages_sent(client, GOOD, {"X-User-Id": "Busy0000000000001", "X-Auth-Token": "tok-current"}))[
        0
    ] == 200
    assert (await get_messages_sent(client, GOOD, {"X-User-Id": "Busy0000000000001", "X-Auth-Token": "tok-5"}))[
        0
    ] == 401


async def test_user_without_permission_gets_403(client):
    headers = {"X-User-Id": USER_ID, "X-Auth-Token": USER_TOKEN}
    assert await get_messages_sent(client, GOOD, headers) == (403, FORBIDDEN)


async def test_permission_follows_rocketchat_permissions_document(client, db):
    """Changes to the permission apply within about a second (it is read at most once a second)."""
    headers = {"X-User-Id": USER_ID, "X-Auth-Token": USER_TOKEN}

    async def status(h, wanted):
        return (await get_messages_sent(client, GOOD, h))[0] == wanted

    assert await status(headers, 403)
    db.rocketchat_permissions.update_one({"_id": "view-engagement-dashboard"}, {"$set": {"roles": ["admin", "user"]}})
    assert await until(lambda: status(headers, 200), seconds=10)
    db.rocketchat_permissions.update_one({"_id": "view-engagement-dashboard"}, {"$set": {"roles": ["auditor"]}})
    assert await until(lambda: status(ADMIN_HEADERS, 403), seconds=10)
    assert await get_messages_sent(client, GOOD, ADMIN_HEADERS) == (403, FORBIDDEN)
    db.rocketchat_permissions.update_one({"_id": "view-engagement-dashboard"}, {"$set": {"roles": ["admin"]}})
    assert await until(lambda: status(ADMIN_HEADERS, 200), seconds=10)
    db.rocketchat_permissions.delete_one({"_id": "view-engagement-dashboard"})
    assert await until(lambda: status(ADMIN_HEADERS, 403), seconds=10)


async def test_custom_role_holding_the_permission_is_allowed(client, db):
    db.rocketchat_permissions.update_one({"_id": "view-engagement-dashboard"}, {"$push": {"roles": "analyst"}})
    db.users.insert_one(
        user_doc("Analyst0000000001", "ana", ["user", "analyst"], [login_token("tok-ana", datetime.now(UTC))])
    )
    assert (await get_messages_sent(client, GOOD, {"X-User-Id": "Analyst0000000001", "X-Auth-Token": "tok-ana"}))[
        0
    ] == 200


@pytest.mark.parametrize("params", [{}, {"start": "garbage"}, {"start": "x", "end": "y"}, {"timezone": "Mars/Olympus"}])
async def test_anonymous_bad_request_gets_401_not_400(client, params):
    assert await get_messages_sent(client, params, {}) == (401, UNAUTHORIZED)


async def test_forbidden_bad_request_gets_403_not_400(client):
    headers = {"X-User-Id": USER_ID, "X-Auth-Token": USER_TOKEN}
    assert await get_messages_sent(client, {"start": "garbage"}, headers) == (403, FORBIDDEN)
