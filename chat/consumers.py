"""``/ws/chat/<room>/``: the seed documents' chat protocol, stored and extended.

A client that sends ``{"message": "text"}`` and reads ``message`` and
``username`` from what arrives (the seeds' JavaScript) works as written; the
frames it does not know (history, presence, typing, read_receipt) carry a
``type``. The protocol, limits and presence design: docs/CHAT.md.
"""

import asyncio
import logging
import time

from django.conf import settings
from redis.exceptions import RedisError

from chat import presence, selectors, services
from chat.errors import (
    InvalidInput,
    MessageNotFound,
    RateLimited,
    RoomForbidden,
    RoomNotFound,
)
from chat.models import Room
from chat.serializers import message_payload
from realtime import groups, publish
from realtime.consumers import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_RATE_LIMITED,
    HubConsumer,
    RateWindow,
    Refused,
)
from realtime.db import database_read, database_write
from realtime.frames import FrameError, NotFound, require_int

logger = logging.getLogger(__name__)


_message_post = database_write(services.message_post)
_message_mark_read = database_write(services.message_mark_read)


@database_write
def _join(slug: str, user) -> Room:
    return services.room_join(slug=slug, user=user)


@database_read
def _may_stay(room_id: int, user) -> bool:
    try:
        room = selectors.room_get_by_id(room_id=room_id)
    except Room.DoesNotExist:
        return False
    return selectors.room_may_enter(room=room, user=user)


@database_read
def _history(room: Room) -> list[dict]:
    limit = settings.CHAT_HISTORY_ON_CONNECT
    return [
        message_payload(m) for m in selectors.messages_recent(room=room, limit=limit)
    ]


class ChatConsumer(HubConsumer):
    frame_handlers = {
        **HubConsumer.frame_handlers,
        "message": "frame_message",
        "typing": "frame_typing",
        "read": "frame_read",
    }
    # Not inline: rooms are small, so a task wake-up per socket costs little,
    # and chat.signal's exclusion and chat.message's history check stay simple.

    def frame_type(self, frame: dict) -> str | None:
        # The seeds' clients send {"message": "..."} without a type.
        if "type" not in frame and "message" in frame:
            return "message"
        return super().frame_type(frame)

    async def opened(self, user) -> list[dict]:
        try:
            room = await self.db_call(
                _join, self.scope["url_route"]["kwargs"]["room"], user
            )
        except RoomNotFound as exc:
            raise Refused(CLOSE_NOT_FOUND, str(exc)) from exc
        except RoomForbidden as exc:
            raise Refused(CLOSE_FORBIDDEN, str(exc)) from exc
        except RateLimited as exc:  # a new room past CHAT_ROOM_CREATE_RATE
            raise Refused(CLOSE_RATE_LIMITED, str(exc)) from exc
        self.room = room
        self.message_rate = RateWindow(settings.CHAT_MESSAGES_PER_MIN)
        self.typing_at = float("-inf")
        # The highest message id this socket marked read: a `read` at or below it
        # changes nothing and is not written again.
        self.read_mark = 0
        self.presence_entry = presence.Entry(
            room.slug, user.pk, user.get_username(), self.channel_name
        )
        # Join before reading history, so nothing committed in between is missed;
        # what the history already holds is not sent again live.
        await self.join(groups.chat(room.slug))
        history = await self.db_call(_history, room)
        self.history_ids = {m["id"] for m in history}
        return [{"type": "history", "messages": history}]

    async def recheck_access(self, user) -> None:
        """Closed with 4403 once the user may no longer enter the room."""
        if not await _may_stay(self.room.pk, user):
            raise Refused(CLOSE_FORBIDDEN, "You may no longer enter this room.")

    async def ready(self) -> None:
        await self._presence(presence.ajoin, on_connect=True)
        self.heartbeat = asyncio.create_task(self._heartbeat())

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "heartbeat"):
            self.heartbeat.cancel()
        if hasattr(self, "presence_entry"):
            await self._presence(presence.aleave)

    # --- presence -----------------------------------------------------------------

    async def _presence(self, operation, *, on_connect: bool = False) -> None:
        """Apply a presence operation; tell the room if its users changed, and on
        connect tell this socket anyway."""
        try:
            change = await operation(self.presence_entry)
        except (RedisError, OSError):
            logger.exception("presence of room %s unavailable", self.room.slug)
            if on_connect:
                await self.send_json({"type": "presence", "users": []})
            return
        frame = {"type": "presence", "users": change.users}
        if change.changed and await publish.achat_signal(self.room.slug, frame):
            return  # this socket, in the group already, hears it too
        if on_connect:
            await self.send_json(frame)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(settings.CHAT_PRESENCE_HEARTBEAT_SECS)
            try:
                await self._presence(presence.arefresh)
            except Exception:
                # The beat must go on: a socket that stops refreshing leaves the room.
                logger.exception("presence heartbeat of room %s", self.room.slug)

    # --- client frames ------------------------------------------------------------

    async def frame_message(self, frame: dict) -> None:
        if await self.rate_limited(self.message_rate, "messages"):
            return
        try:
            await self.db_call(
                _message_post,
                room=self.room,
                author=self.user,
                text=frame.get("message"),
            )
        except InvalidInput as exc:
            raise FrameError(str(exc)) from exc

    async def frame_typing(self, frame: dict) -> None:
        now = time.monotonic()
        if now - self.typing_at < settings.CHAT_TYPING_MIN_INTERVAL_SECS:
            return  # clients send one per keystroke; one in a while says enough
        self.typing_at = now
        await publish.achat_signal(
            self.room.slug,
            {"type": "typing", "username": self.user.get_username()},
            exclude_user_id=self.user.pk,
        )

    async def frame_read(self, frame: dict) -> None:
        message_id = require_int(frame, "id", minimum=1)
        if message_id <= self.read_mark:
            return
        try:
            await self.db_call(
                _message_mark_read,
                room=self.room,
                user=self.user,
                message_id=message_id,
            )
        except MessageNotFound as exc:
            raise NotFound(str(exc)) from exc
        self.read_mark = message_id

    # --- channel-layer events (see realtime.groups) -------------------------------

    async def chat_message(self, event: dict) -> None:
        if event["id"] in self.history_ids:
            return
        await self.send_frames(event)

    async def chat_signal(self, event: dict) -> None:
        if event.get("exclude_user_id") == self.user.pk:
            return
        await self.send_frames(event)
