"""What a kept key stands for: one class for every user key (a bot's with its flag); a compound key's second part
(a session's client, a bot's with its flag); a key without a second part counts nowhere."""

from __future__ import annotations

from engagement_svc.counting.classes import EveryKey, SecondParts

FLAG, PART = "\x1f", "\x1e"


async def test_every_user_key_is_one_class_and_a_bots_carries_its_flag():
    users = EveryKey("user")
    assert (users.kind("ada"), users.kind("bot" + FLAG + "bot"), users.knows("anyone")) == (
        "user",
        "user" + FLAG + "bot",
        True,
    )
    assert await users.ensure(["ada"]) is None and users.generation == 0


async def test_a_compound_keys_class_is_its_second_part():
    parts = SecondParts()
    assert parts.kind("ada" + PART + "web") == "web"
    assert parts.kind("bot" + PART + "desktop" + FLAG + "bot") == "desktop" + FLAG + "bot"
    assert parts.kind("ada") is None and parts.kind("ada" + FLAG + "bot") is None  # no second part: nowhere
    assert parts.knows("x") and await parts.ensure(["x"]) is None and parts.generation == 0
