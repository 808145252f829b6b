"""Channel-layer group names and event types: the one place they are spelled.

Group names follow channels' own rule (``^[a-zA-Z0-9\\-_.]+$``, under 100
characters); :func:`checked` enforces it here so a bad name fails where it is
built, with a message that says what to fix. Event types follow
``<domain>.<verb>`` and dispatch to the consumer method of the same name with
the dot replaced by an underscore (``notification.created`` ->
``notification_created``).
"""

import re

GROUP_NAME_MAX_CHARS = 99
_GROUP_NAME_RE = re.compile(r"^[a-zA-Z0-9\-_.]+$")

DASHBOARD = "dashboard"
# Nobody listens here: /healthz publishes to it to prove the layer accepts messages.
HEALTHZ = "healthz"

# Event types carried on the channel layer. Each carries ``frames``: the JSON
# text frames to send, encoded once by the publisher, never once per socket.
NOTIFICATION_CREATED = "notification.created"
NOTIFICATION_READ = "notification.read"
TOPIC_EVENT = "topic.event"
SUBSCRIPTION_CHANGED = "subscription.changed"
CHAT_MESSAGE = "chat.message"
CHAT_SIGNAL = "chat.signal"
DASHBOARD_STATS = "dashboard.stats"
DASHBOARD_METRIC = "dashboard.metric"
# No frames: the sockets that get it re-check their access (docs/SECURITY.md,
# "Revocation"); ``credential`` names one sign-in (a session, an API token)
# whose sockets close at once.
ACCESS_CHANGED = "access.changed"

EVENT_TYPES = frozenset(
    {
        NOTIFICATION_CREATED,
        NOTIFICATION_READ,
        TOPIC_EVENT,
        SUBSCRIPTION_CHANGED,
        CHAT_MESSAGE,
        CHAT_SIGNAL,
        DASHBOARD_STATS,
        DASHBOARD_METRIC,
        ACCESS_CHANGED,
    }
)


# A local event, never published: the layer puts it into the inbox of every
# consumer of a process when a Redis connection of its layer is back after a
# break (realtime.layer), so sockets can fetch what they missed meanwhile.
LAYER_RECONNECTED = "layer.reconnected"


class InvalidGroupName(ValueError):
    """A group name channels would refuse."""


def checked(name: str) -> str:
    """Return ``name`` if channels accepts it as a group name, else raise."""
    if len(name) > GROUP_NAME_MAX_CHARS or not _GROUP_NAME_RE.match(name):
        raise InvalidGroupName(
            f"group name {name!r} must be under 100 characters of ASCII "
            "letters, digits, '-', '_' or '.'"
        )
    return name


def user(user_id: int) -> str:
    """Every socket of one user."""
    return checked(f"{user_prefix()}{int(user_id)}")


def user_access(user_id: int) -> str:
    """Every socket of one user that is not in ``user.<id>`` (chat, dashboard):
    where their access changes are published too."""
    return checked(f"access.{int(user_id)}")


def user_prefix() -> str:
    """What every user group name starts with (to list them by pattern)."""
    return "user."


def topic(slug: str) -> str:
    """Every socket subscribed to a topic."""
    return checked(f"topic.{slug}")


def topic_slug_of(group: str) -> str | None:
    """The slug of a ``topic.<slug>`` group name; None for other groups."""
    return group.removeprefix("topic.") if group.startswith("topic.") else None


def chat(room_slug: str) -> str:
    """Every socket in a chat room."""
    return checked(f"chat.{room_slug}")
