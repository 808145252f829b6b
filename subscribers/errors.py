"""Domain errors of the subscribers app, translated at the edges (HTTP, socket)."""


class InvalidConnectionToken(Exception):
    """A connection token was refused; the message says why (safe to show)."""


class TokenSigningUnavailable(Exception):
    """The hub has no HUB_JWT_SECRET, so it cannot mint connection tokens."""
