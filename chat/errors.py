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


class CannotInvite(ChatError):
    """No such user, or one who cannot be invited here: the same error for both,
    so that answers never tell which usernames exist."""


class InvitationNotFound(ChatError):
    """No pending invitation with that id for this user."""


class RateLimited(ChatError):
    """Too many rooms or invitations in the window; ``retry_after_secs`` says when
    the next one is allowed."""

    def __init__(self, message: str, *, retry_after_secs: int) -> None:
        super().__init__(message)
        self.retry_after_secs = retry_after_secs
