"""Chat's domain errors, declared once; translated to close codes, error frames
and HTTP statuses at the edges (consumers.py, views.py).
"""


class ChatError(Exception):
    """Base of chat's domain errors; ``str()`` is a message fit for the user."""


class RoomNotFound(ChatError):
    """No such room, and it may not be created here."""


class RoomForbidden(ChatError):
    """The room exists (or would), but this user may not enter it."""


class RoomExists(ChatError):
    """A room with that slug already exists."""


class MessageNotFound(ChatError):
    """No such message in this room."""


class InvalidInput(ChatError):
    """Bad text, slug or member list."""
