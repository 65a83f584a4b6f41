"""What Rocket.Chat's documents mean, written once: which messages are "sent", which rooms count.

Rocket.Chat's own counter (its afterSaveMessage callback) counts every saved message in a channel, private group
or direct room, thread replies, bot and app messages and uploads included; not system messages (they carry a
`t`: joins, leaves, topic changes...), not the hidden copies an edit leaves (`_hidden: true`), and nothing in
livechat (`l`) or voip (`v`) rooms.
"""

from __future__ import annotations

# A message sent: no `t`, not `_hidden`. The room's type is not on the message: see COUNTED_ROOM_TYPES.
MESSAGE_SENT = {"t": {"$exists": False}, "_hidden": {"$ne": True}}

COUNTED_ROOM_TYPES = ("c", "p", "d")  # channel, private group, direct; never livechat (l) or voip (v)

# Who is a bot: a user whose `type` is bot or app, or whose roles include bot. A bot message is one whose author is
# a bot, or that carries a `bot` field (integrations post as a person, with `bot: {i: <integration id>}`).
BOT_USER = {"$or": [{"type": {"$in": ["bot", "app"]}}, {"roles": "bot"}]}
BOT_FIELD = "bot"  # on a message: posted by an integration
AUTHOR_FIELD = "u._id"

# A user counted among the new users: anyone whose roles do not include anonymous (bots too, unless asked).
USER_COUNTED = {"roles": {"$ne": "anonymous"}}

# A session counted for active users (rocketchat_sessions): a login connection (`session`, or `computed-session`
# once the 02:00 job has summed it; never the `user_daily` sums themselves), of a user, not an anonymous one.
# It covers [loginAt, the first of SESSION_ENDS present), or up to now while none is.
SESSION_USER = "userId"
SESSION_COUNTED = {
    "type": {"$in": ["session", "computed-session"]},
    SESSION_USER: {"$exists": True},
    "mostImportantRole": {"$ne": "anonymous"},
}
SESSION_ENDS = ("closedAt", "logoutAt", "lastActivityAt")
SESSION_DEVICE = "device.type"  # the client: browser, mobile, tablet, desktop-app, mobile-app, other, or none
