"""``/ws/dashboard/``: the hub's live statistics and custom metrics, for staff."""

import logging

from asgiref.sync import sync_to_async
from redis.exceptions import RedisError

from dashboard import selectors
from realtime import groups
from realtime.consumers import CLOSE_FORBIDDEN, HubConsumer, Refused

logger = logging.getLogger(__name__)

# The snapshot reads Redis with the sync client; off the database thread.
_snapshot = sync_to_async(selectors.dashboard_snapshot, thread_sensitive=False)


class DashboardConsumer(HubConsumer):
    """Joins ``dashboard``; sends the snapshot at once, then forwards frames."""

    # Not inline: a handful of staff sockets, one event every 2 s.

    async def opened(self, user) -> list[dict]:
        await self.recheck_access(user)
        await self.join(groups.DASHBOARD)
        try:
            return [await _snapshot()]
        except (RedisError, OSError):
            # The next Beat push (every 2 s) brings one once Redis is back.
            logger.warning("dashboard snapshot on connect unavailable", exc_info=True)
            return []

    async def recheck_access(self, user) -> None:
        if not user.is_staff:
            raise Refused(CLOSE_FORBIDDEN, "the dashboard is for staff")

    # --- channel-layer events (see realtime.groups) -------------------------------

    async def dashboard_stats(self, event: dict) -> None:
        await self.send_frames(event)

    async def dashboard_metric(self, event: dict) -> None:
        await self.send_frames(event)
