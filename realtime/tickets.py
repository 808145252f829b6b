"""Single-use WebSocket tickets, so long-lived tokens never appear in URLs.

A ticket is a random string stored in the cache (Redis) for
``WS_TICKET_TTL_SECS`` with the user's id. Redeeming deletes it; of two
concurrent redemptions only the one whose delete removed the key wins.
"""

import secrets

from django.conf import settings
from django.core.cache import cache

_KEY = "ws-ticket:{}"


def ticket_issue(*, user_id: int) -> str:
    ticket = secrets.token_urlsafe(32)
    cache.set(_KEY.format(ticket), user_id, timeout=settings.WS_TICKET_TTL_SECS)
    return ticket


async def aticket_redeem(ticket: str) -> int | None:
    """The user id of a valid, unused ticket, consuming it; None otherwise."""
    if not ticket or len(ticket) > 128:
        return None
    key = _KEY.format(ticket)
    user_id = await cache.aget(key)
    if user_id is None or not await cache.adelete(key):
        return None
    return user_id
