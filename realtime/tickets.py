"""Single-use WebSocket tickets, so long-lived tokens never appear in URLs.

A ticket is a random string stored in the cache (Redis) for
``WS_TICKET_TTL_SECS`` with the user's id and the fingerprint of the sign-in
that asked for it (a session or an API token; realtime.security), so the
socket it opens closes when that sign-in ends. Redeeming deletes it; of two
concurrent redemptions only the one whose delete removed the key wins.
"""

import secrets

from django.conf import settings
from django.core.cache import cache

_KEY = "ws-ticket:{}"


def ticket_issue(*, user_id: int, credential: str | None = None) -> str:
    """A new ticket for ``user_id``; ``credential`` is the fingerprint of the
    sign-in that asked for it, if one that can end alone."""
    ticket = secrets.token_urlsafe(32)
    cache.set(
        _KEY.format(ticket),
        {"user_id": user_id, "credential": credential},
        timeout=settings.WS_TICKET_TTL_SECS,
    )
    return ticket


async def aticket_redeem(ticket: str) -> dict | None:
    """``{"user_id", "credential"}`` of a valid, unused ticket, consuming it;
    None otherwise."""
    if not ticket or len(ticket) > 128:
        return None
    key = _KEY.format(ticket)
    stored = await cache.aget(key)
    if stored is None or not await cache.adelete(key):
        return None
    if isinstance(stored, int):  # issued by a process of the previous release
        return {"user_id": stored, "credential": None}
    return stored
