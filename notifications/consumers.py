"""``/ws/notifications/``: a user's live notifications, read state and resume."""

from channels.db import database_sync_to_async
from django.conf import settings

from hub import groups
from hub.websocket.consumers import (
    CLOSE_NOT_AUTHENTICATED,
    HubConsumer,
    NotFound,
    require_int,
)
from notifications import selectors, services
from notifications.models import Notification
from notifications.serializers import notification_payload


@database_sync_to_async
def _hello(user) -> dict:
    return {
        "type": "hello",
        "user": {"id": user.pk, "username": user.get_username()},
        "unread": selectors.notification_unread_count(user_id=user.pk),
        "last_id": selectors.notification_last_id(user_id=user.pk),
        "topics": [],
    }


@database_sync_to_async
def _after(user_id: int, last_id: int, limit: int) -> list[dict]:
    rows = selectors.notifications_after(user_id=user_id, last_id=last_id, limit=limit)
    return [notification_payload(n) for n in rows]


class NotificationConsumer(HubConsumer):
    frame_handlers = {
        "ping": "frame_ping",
        "read": "frame_read",
        "read_all": "frame_read_all",
        "resume": "frame_resume",
    }

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_NOT_AUTHENTICATED, "authentication required")
            return
        self.user_id = user.pk
        self.user_group = groups.user(user.pk)
        # Ids a resume already sent; their live push, if it comes after, is skipped.
        self.replayed_ids: set[int] = set()
        # Join before reading the state, so nothing committed in between is missed.
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        hello = await _hello(user)
        await self.accept()
        await self.send_json(hello)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "user_group"):
            await self.channel_layer.group_discard(self.user_group, self.channel_name)

    async def frame_read(self, frame: dict) -> None:
        notification_id = require_int(frame, "id", minimum=1)
        try:
            await database_sync_to_async(services.notification_mark_read)(
                user_id=self.user_id, notification_id=notification_id
            )
        except Notification.DoesNotExist as exc:
            raise NotFound(f"No notification {notification_id}.") from exc

    async def frame_read_all(self, frame: dict) -> None:
        await database_sync_to_async(services.notifications_mark_all_read)(
            user_id=self.user_id
        )

    async def frame_resume(self, frame: dict) -> None:
        last_id = require_int(frame, "last_id")
        limit = settings.RESUME_MAX_ITEMS
        payloads = await _after(self.user_id, last_id, limit + 1)
        more = len(payloads) > limit
        payloads = payloads[:limit]
        self.replayed_ids = {p["id"] for p in payloads}
        for payload in payloads:
            await self.send_json({"type": "notification", "notification": payload})
        await self.send_json(
            {
                "type": "resumed",
                "count": len(payloads),
                "last_id": payloads[-1]["id"] if payloads else last_id,
                "more": more,
            }
        )

    # --- channel-layer events (see hub.groups) ------------------------------------

    async def notification_created(self, event: dict) -> None:
        if event["id"] in self.replayed_ids:
            self.replayed_ids.discard(event["id"])
            return
        await self.send_frames(event)

    async def notification_read(self, event: dict) -> None:
        await self.send_frames(event)
