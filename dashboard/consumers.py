"""``/ws/dashboard/``: the hub's live statistics and custom metrics, for staff."""

import logging

from asgiref.sync import sync_to_async
from redis.exceptions import RedisError

from dashboard import selectors
from realtime import groups
from realtime.consumers import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_AUTHENTICATED,
    HubConsumer,
)

logger = logging.getLogger(__name__)

# The snapshot reads Redis with the sync client; off the database thread.
_snapshot = sync_to_async(selectors.dashboard_snapshot, thread_sensitive=False)


class DashboardConsumer(HubConsumer):
    """Joins ``dashboard``; sends the snapshot at once, then forwards frames."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_NOT_AUTHENTICATED, "authentication required")
            return
        if not user.is_staff:
            await self.refuse(CLOSE_FORBIDDEN, "the dashboard is for staff")
            return
        self.joined = True
        await self.channel_layer.group_add(groups.DASHBOARD, self.channel_name)
        await self.accept()
        try:
            snapshot = await _snapshot()
        except (RedisError, OSError):
            # The next Beat push (every 2 s) brings one once Redis is back.
            logger.warning("dashboard snapshot on connect unavailable", exc_info=True)
        else:
            await self.send_json(snapshot)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "joined", False):
            await self.channel_layer.group_discard(groups.DASHBOARD, self.channel_name)

    # --- channel-layer events (see realtime.groups) -------------------------------

    async def dashboard_stats(self, event: dict) -> None:
        await self.send_frames(event)

    async def dashboard_metric(self, event: dict) -> None:
        await self.send_frames(event)
