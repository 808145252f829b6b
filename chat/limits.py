"""Per-user limits on what takes other people's attention: rooms created and
invitations sent (CHAT_ROOM_CREATE_RATE, CHAT_INVITATIONS_RATE).

Rates are DRF's format, ``"<n>/<sec|min|hour|day>"`` (hub/settings.py checks them
at start-up), over a sliding window. The count is read from the rows themselves
(rooms by ``created_by``, invitations by ``inviter``, whatever their state), so it
is exact across web processes, needs no Redis, and survives restarts. Requests
that run at the very same instant may each see the last free unit, so a user
can pass a rate by as many requests as they run at once.
"""

import math
from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from chat.errors import RateLimited

_PERIOD_SECS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"20/hour"`` -> (20, 3600): how many, per how many seconds."""
    count, _, period = rate.partition("/")
    return int(count), _PERIOD_SECS[period[0]]


def check(*, done: QuerySet, rate: str, units: int, message: str) -> None:
    """Raise RateLimited (with ``message`` and the seconds until there is room) if
    ``units`` more rows would put ``done``, a user's rows with a ``created_at``,
    past ``rate`` within its window."""
    allowed, window_secs = parse_rate(rate)
    window = timedelta(seconds=window_secs)
    now = timezone.now()
    times = list(
        done.filter(created_at__gt=now - window)
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )
    excess = len(times) + units - allowed
    if excess <= 0:
        return
    if units > allowed:  # never fits: say so, with the whole window
        retry_after_secs = window_secs
    else:  # when enough of the oldest have left the window
        retry_after_secs = math.ceil((times[excess - 1] + window - now).total_seconds())
    raise RateLimited(message, retry_after_secs=max(retry_after_secs, 1))
