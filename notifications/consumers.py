"""``/ws/notifications/``: a user's live notifications, read state and resume.

A frame that would change nothing (following a topic one follows, marking read
what is read, ``seen`` for ids all seen) is answered after a read, with no
write: writes queue on one shared thread (realtime.db), reads do not.
"""

from django.conf import settings

from delivery import escalation
from hub import metrics
from notifications import selectors, services
from notifications.errors import TopicForbidden, TopicNotFound
from notifications.models import Notification
from notifications.serializers import notification_payload
from realtime import groups
from realtime.consumers import HubConsumer
from realtime.db import database_read, database_write
from realtime.frames import (
    Forbidden,
    FrameError,
    NotFound,
    require_int,
    require_str,
)
from realtime.publish import notification_frame

# Most ids one `seen` frame may carry; hub.js batches what a page shows at once
# (at most a feed page and the bell's dropdown), well under this.
SEEN_MAX_IDS = 100


@database_read
def _hello(user) -> dict:
    state = selectors.socket_state(user=user)
    return {
        "type": "hello",
        "user": {"id": user.pk, "username": user.get_username()},
        "unread": state.unread,
        "last_id": state.last_id,
        "topics": state.topics,
    }


@database_read
def _after(user_id: int, last_id: int, limit: int) -> list[dict]:
    """The user's ``notification`` frames after ``last_id``, oldest first, quiet
    where in-app is off for the category, as when they were first pushed."""
    rows = selectors.notifications_after(user_id=user_id, last_id=last_id, limit=limit)
    quiet = escalation.quiet_ids(rows)
    return [
        notification_frame(notification_payload(n), quiet=n.pk in quiet) for n in rows
    ]


@database_read
def _topics_still_followable(user, slugs: list[str]) -> set[str]:
    return selectors.topic_slugs_may_follow(user=user, slugs=slugs)


@database_read
def _unread(user_id: int) -> int:
    return selectors.notification_unread_count(user_id=user_id)


_topic_followed = database_read(selectors.topic_followed)
_unseen_exist = database_read(selectors.notifications_unseen_exist)
_subscribe = database_write(services.topic_subscribe)
_unsubscribe = database_write(services.topic_unsubscribe)
_mark_read = database_write(services.notification_mark_read)
_mark_all_read = database_write(services.notifications_mark_all_read)
_mark_seen = database_write(services.notifications_mark_seen)


@database_read
def _is_unread(user_id: int, notification_id: int) -> bool:
    notification = selectors.notification_get_own(
        user_id=user_id, notification_id=notification_id
    )
    return notification.read_at is None


class NotificationConsumer(HubConsumer):
    frame_handlers = {
        **HubConsumer.frame_handlers,
        "read": "frame_read",
        "read_all": "frame_read_all",
        "resume": "frame_resume",
        "seen": "frame_seen",
        "subscribe": "frame_subscribe",
        "unsubscribe": "frame_unsubscribe",
    }
    # Inline: these check the delivery point and send; subscription.changed is
    # not, as it joins or leaves a group first (a Redis round trip). The one
    # exception, notification.created finding a gap, reads the database: the
    # reader hands that rest to this consumer's task, and order is kept.
    inline_events = frozenset(
        {groups.NOTIFICATION_CREATED, groups.NOTIFICATION_READ, groups.TOPIC_EVENT}
    )

    async def opened(self, user) -> list[dict]:
        self.user_id = user.pk
        # Join before reading the state, so nothing committed in between is missed.
        await self.join(groups.user(user.pk))
        hello = await self.db_call(_hello, user)
        # The socket's delivery point: every notification of the user up to
        # this id was sent here (or precedes the socket, hello.last_id), and
        # ids go out in increasing order, never past a missing one, so the
        # highest id a client has seen is a lossless resume point.
        self.delivered_id: int = hello["last_id"]
        # Every id in (opened_id, delivered_id] has been sent on this socket.
        self.opened_id: int = hello["last_id"]
        for slug in hello["topics"]:
            await self.join(groups.topic(slug))
        return [hello]

    def revocation_group(self, user) -> str:
        return groups.user(user.pk)  # joined anyway: no second subscription

    async def recheck_access(self, user) -> None:
        """Leave each topic the user may no longer follow (or that is gone)."""
        joined = [
            slug
            for group in sorted(self.joined_groups)
            if (slug := groups.topic_slug_of(group)) is not None
        ]
        if not joined:
            return
        allowed = await _topics_still_followable(user, joined)
        for slug in joined:
            if slug not in allowed and await self.leave(groups.topic(slug)):
                await self.send_json(
                    {"type": "unsubscribed", "topic": slug, "reason": "revoked"}
                )

    async def frame_subscribe(self, frame: dict) -> None:
        slug = require_str(frame, "topic", max_chars=64)
        try:
            if not await self.db_call(_topic_followed, user_id=self.user_id, slug=slug):
                await self.db_call(_subscribe, user=self.user, slug=slug)
        except TopicNotFound as exc:
            raise NotFound(f"No topic {slug!r}.") from exc
        except TopicForbidden as exc:
            raise Forbidden(f"You may not follow {slug!r}.") from exc
        # Join and answer now; the subscription.changed echo finds it done.
        await self.join(groups.topic(slug))
        await self.send_json({"type": "subscribed", "topic": slug})

    async def frame_unsubscribe(self, frame: dict) -> None:
        slug = require_str(frame, "topic", max_chars=64)
        try:
            if await self.db_call(_topic_followed, user_id=self.user_id, slug=slug):
                await self.db_call(_unsubscribe, user=self.user, slug=slug)
        except TopicNotFound as exc:
            raise NotFound(f"No topic {slug!r}.") from exc
        await self.leave(groups.topic(slug))
        await self.send_json({"type": "unsubscribed", "topic": slug})

    async def frame_read(self, frame: dict) -> None:
        notification_id = require_int(frame, "id", minimum=1)
        try:
            if await self.db_call(_is_unread, self.user_id, notification_id):
                await self.db_call(
                    _mark_read, user_id=self.user_id, notification_id=notification_id
                )
        except Notification.DoesNotExist as exc:
            raise NotFound(f"No notification {notification_id}.") from exc

    async def frame_read_all(self, frame: dict) -> None:
        if await self.db_call(_unread, self.user_id):
            await self.db_call(_mark_all_read, user_id=self.user_id)

    async def frame_seen(self, frame: dict) -> None:
        ids = frame.get("ids")
        if (
            not isinstance(ids, list)
            or not ids
            or len(ids) > SEEN_MAX_IDS
            or not all(type(i) is int and i > 0 for i in ids)
        ):
            raise FrameError(
                f"'ids' must be a list of 1 to {SEEN_MAX_IDS} notification ids."
            )
        if await self.db_call(
            _unseen_exist, user_id=self.user_id, notification_ids=ids
        ):
            await self.db_call(_mark_seen, user_id=self.user_id, notification_ids=ids)

    async def frame_resume(self, frame: dict) -> None:
        last_id = require_int(frame, "last_id")
        if last_id >= self.delivered_id:
            # Nothing to replay, and no query: every id up to the delivery
            # point was sent here or precedes the socket, and every later one
            # comes as a live push (the group was joined before hello was
            # read). A client back from a short loss usually has seen it all:
            # after a web restart most of a storm's resumes end here.
            await self.send_json(
                {"type": "resumed", "count": 0, "last_id": last_id, "more": False}
            )
            return
        limit = settings.RESUME_MAX_ITEMS
        frames = await self.db_call(_after, self.user_id, last_id, limit + 1)
        more = len(frames) > limit
        frames = frames[:limit]
        # What this socket was sent since its hello (pushes that came before
        # this frame) is on its way to the client already: not sent twice.
        fresh = [
            item
            for item in frames
            if not self.opened_id < item["notification"]["id"] <= self.delivered_id
        ]
        for item in fresh:
            await self.send_json(item)
        resumed_to = frames[-1]["notification"]["id"] if frames else last_id
        if frames:  # their live pushes, if they come after, are skipped
            self.delivered_id = max(self.delivered_id, resumed_to)
        await self.send_json(
            {
                "type": "resumed",
                "count": len(fresh),
                "last_id": resumed_to,
                "more": more,
            }
        )

    # --- channel-layer events (see realtime.groups) -------------------------------

    async def notification_created(self, event: dict) -> None:
        if event["id"] <= self.delivered_id:
            # A resume or a catch-up sent the notification already, but not
            # the unread count that follows it in the event (the notification,
            # then its user's count: realtime.publish.notifications_created).
            await self.send_frames({"frames": event["frames"][1:]})
            return
        prev_id = event.get("prev_id")
        if prev_id is not None and prev_id > self.delivered_id:
            # The user's previous notification has not come: another
            # producer's push still on its way, or lost while the layer was
            # down. Send from the database, in id order, this one included.
            await self.catch_up()
            return
        await self.send_frames(event)
        self.delivered_id = event["id"]
        metrics.NOTIFICATIONS_DELIVERED.inc()

    async def layer_reconnected(self, event: dict) -> None:
        """The layer was deaf for a while (Redis restarted): fetch what came."""
        if getattr(self, "delivered_id", None) is not None:  # signed in, opened
            await self.catch_up()

    async def catch_up(self) -> None:
        """Send every notification after ``delivered_id``, oldest first, then
        the unread count: a resume the server runs for its client."""
        limit = settings.RESUME_MAX_ITEMS
        while True:
            frames = await self.db_call(_after, self.user_id, self.delivered_id, limit)
            for frame in frames:
                await self.send_json(frame)
                self.delivered_id = frame["notification"]["id"]
            metrics.NOTIFICATIONS_DELIVERED.inc(len(frames))
            if len(frames) < limit:
                break
        unread = await self.db_call(_unread, self.user_id)
        await self.send_json({"type": "unread", "unread": unread})

    async def notification_read(self, event: dict) -> None:
        await self.send_frames(event)

    async def subscription_changed(self, event: dict) -> None:
        """Another tab or the HTTP API (un)followed a topic: follow suit."""
        group = groups.topic(event["topic"])
        if event["subscribed"]:
            changed = await self.join(group)
        else:
            changed = await self.leave(group)
        if changed:
            await self.send_frames(event)

    async def topic_event(self, event: dict) -> None:
        await self.send_frames(event)
