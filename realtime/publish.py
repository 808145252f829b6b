"""The publish gateway: the only module that sends to the channel layer.

Delivery guarantee. Everything a client must not miss is stored first; this
module pushes it only after the database transaction that stored it has
committed (:func:`on_commit`), so a socket never sees a row that could still be
rolled back. The live push is best effort and at most once per socket: if Redis
or a web process is down at that moment the frame is lost for that socket, never
the notification. A client that reconnects sends ``resume`` with the last id it
saw and receives every stored notification after it, so across disconnects and
restarts delivery is at least once per id, and exactly once for a client that
ignores ids it already has. Ephemeral events (topic events, typing, dashboard
stats) are not stored and have no such guarantee.

Sync callers (views, signals, Celery tasks) publish through one long-lived event
loop per process, in a daemon thread, so every publish reuses one Redis
connection instead of opening a loop and a connection per call as
``async_to_sync`` would. Async callers (consumers) ``await`` the ``a``-prefixed
functions on their own loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Iterable
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from hub import metrics
from realtime import groups
from realtime.layer import HubPubSubChannelLayer

logger = logging.getLogger(__name__)


def encode(frame: dict[str, Any]) -> str:
    """Encode one WebSocket frame; done once per event, whatever the audience."""
    return json.dumps(frame, separators=(",", ":"), default=str)


def message(event_type: str, frames: Iterable[dict[str, Any]], **extra: Any) -> dict:
    """Build a channel-layer message carrying pre-encoded ``frames``."""
    if event_type not in groups.EVENT_TYPES:
        raise ValueError(
            f"unknown event type {event_type!r}: add it to realtime.groups"
        )
    return {"type": event_type, "frames": [encode(f) for f in frames], **extra}


class _PublisherLoop:
    """One event loop per process, in a daemon thread, for sync publishers.

    Started on first use and again after a fork (Celery's prefork pool forks
    children after import; a thread does not survive a fork).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="hub-publisher", daemon=True
                )
                thread.start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def run(self, coro_fn: Callable[[], Any], timeout: float) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "sync publish called from async code: await the a-prefixed "
                "function of realtime.publish instead"
            )
        future = asyncio.run_coroutine_threadsafe(coro_fn(), self._ensure())
        return future.result(timeout)


_publisher = _PublisherLoop()


async def asend_many(batch: Iterable[tuple[str, dict]]) -> None:
    """Send each (group, message) pair, in order, on the caller's loop.

    On the hub's layer the whole batch goes to Redis as one pipeline per shard
    (``HubPubSubChannelLayer.publish_many``): one round trip for a broadcast
    chunk instead of one per user. Other layers (the in-memory one in consumer
    unit tests) get plain group_send.
    """
    batch = list(batch)
    if not batch:
        return
    layer = get_channel_layer()
    started = time.perf_counter()
    if isinstance(layer, HubPubSubChannelLayer):
        await layer.publish_many(batch)
    else:
        for group, msg in batch:
            await layer.group_send(group, msg)
    per_message_secs = (time.perf_counter() - started) / len(batch)
    metrics.PUBLISH_SECONDS.observe(per_message_secs)
    metrics.PUBLISH_LATENCY_SAMPLES.append(per_message_secs)
    metrics.EVENTS_PUBLISHED.inc(len(batch))


async def aonline_user_ids(user_ids: list[int]) -> set[int]:
    """Which of these users have a socket open on any web process.

    A web process subscribes to ``user.<id>``'s Redis channel while it holds one
    of the user's sockets, so PUBSUB NUMSUB answers for the whole cluster in one
    round trip per shard. A socket connecting at this very moment may be missed:
    it reads its state after subscribing, so what it missed live it finds by
    ``resume`` or in ``hello``, as with any push.
    """
    layer = get_channel_layer()
    if not isinstance(layer, HubPubSubChannelLayer) or not user_ids:
        return set(user_ids)
    group_of_user = {groups.user(user_id): user_id for user_id in user_ids}
    counts = await layer.subscriber_counts(group_of_user)
    return {group_of_user[group] for group, count in counts.items() if count}


async def aonline_users() -> set[int] | None:
    """Every user with a socket open on any web process (None: cannot tell).

    One PUBSUB CHANNELS per shard, matching the channels of ``user.*`` groups.
    """
    layer = get_channel_layer()
    if not isinstance(layer, HubPubSubChannelLayer):
        return None
    prefix = groups.user_prefix()
    ids = (name[len(prefix) :] for name in await layer.groups_with_subscribers(prefix))
    return {int(user_id) for user_id in ids if user_id.isdigit()}


def online_users() -> set[int] | None:
    """Sync :func:`aonline_users`; None when Redis cannot tell."""
    try:
        return _publisher.run(aonline_users, settings.PUBLISH_TIMEOUT_SECS)
    except Exception:
        logger.exception("online users unknown")
        return None


def online_user_ids(user_ids: list[int]) -> set[int]:
    """Sync :func:`aonline_user_ids`; on a Redis failure, assume all are online."""
    try:
        return _publisher.run(
            lambda: aonline_user_ids(user_ids), settings.PUBLISH_TIMEOUT_SECS
        )
    except Exception:
        logger.exception("online check failed; pushing to everyone")
        return set(user_ids)


async def asend(group: str, msg: dict) -> None:
    """Send one message to one group, on the caller's loop."""
    await asend_many([(group, msg)])


def send_many(batch: Iterable[tuple[str, dict]]) -> bool:
    """Send each (group, message) pair from sync code; True if all were sent.

    A failure is logged and counted, never raised: what is published here was
    stored first, and clients recover it by resuming.
    """
    batch = list(batch)
    if not batch:
        return True
    try:
        _publisher.run(lambda: asend_many(batch), settings.PUBLISH_TIMEOUT_SECS)
    except Exception:
        metrics.PUBLISH_FAILURES.inc(len(batch))
        logger.exception(
            "publish of %d message(s) failed; stored rows stay and are resumable",
            len(batch),
        )
        return False
    return True


def send(group: str, msg: dict) -> bool:
    """Send one message to one group from sync code."""
    return send_many([(group, msg)])


def on_commit(publish: Callable[[], Any], using: str | None = None) -> None:
    """Run ``publish`` once the current transaction commits (now, if none is open)."""
    transaction.on_commit(publish, using=using, robust=True)


def ping() -> None:
    """Raise unless the channel layer accepts a message (for /healthz)."""
    _publisher.run(
        lambda: get_channel_layer().group_send(
            groups.HEALTHZ, {"type": groups.DASHBOARD_STATS, "frames": []}
        ),
        settings.PUBLISH_TIMEOUT_SECS,
    )


# --- Domain events ------------------------------------------------------------------
# The functions below turn domain events into messages. They are the only callers
# of send/asend; services call them, from inside on_commit.


def notification_frame(data: dict, *, quiet: bool = False) -> dict:
    """The ``notification`` frame of a serialised notification; ``quiet`` (sent
    only when true) asks the page for no toast or alert and no ``seen``."""
    frame = {"type": "notification", "notification": data}
    if quiet:
        frame["quiet"] = True
    return frame


def notifications_created(
    by_user: dict[int, list[dict]],
    unread: dict[int, int],
    prev_ids: dict[int, int] | None = None,
    quiet: Collection[int] = (),
) -> bool:
    """Push newly stored notifications, each followed by its user's unread count.

    ``by_user`` maps user ids to their serialised notifications; the whole batch
    (a broadcast chunk) goes to Redis in one pipeline. ``prev_ids`` maps a
    notification id to its user's previous one (0: none), with which a socket
    keeps ids in order when two producers' pushes cross (docs/RELIABILITY.md).
    ``quiet`` holds the ids whose recipient turned in-app off for their category.
    """
    prev_ids = prev_ids or {}
    return send_many(
        (
            groups.user(user_id),
            message(
                groups.NOTIFICATION_CREATED,
                [
                    notification_frame(data, quiet=data["id"] in quiet),
                    {"type": "unread", "unread": unread[user_id]},
                ],
                id=data["id"],
                prev_id=prev_ids.get(data["id"]),
            ),
        )
        for user_id, payloads in by_user.items()
        for data in payloads
    )


def notifications_read(user_id: int, ids: list[int], unread: int) -> bool:
    """Tell every socket of a user that ``ids`` were read, and the new count."""
    frames = [{"type": "unread", "unread": unread}]
    if ids:
        frames.insert(0, {"type": "read", "ids": ids})
    return send(groups.user(user_id), message(groups.NOTIFICATION_READ, frames))


def subscription_changed(user_id: int, slug: str, subscribed: bool) -> bool:
    """Tell every socket of a user to join or leave a topic's group."""
    frame_type = "subscribed" if subscribed else "unsubscribed"
    return send(
        groups.user(user_id),
        message(
            groups.SUBSCRIPTION_CHANGED,
            [{"type": frame_type, "topic": slug}],
            topic=slug,
            subscribed=subscribed,
        ),
    )


def topic_event(slug: str, event: dict) -> bool:
    """Push an ephemeral event to every socket following a topic."""
    return send(
        groups.topic(slug),
        message(groups.TOPIC_EVENT, [{"type": "event", "topic": slug, "event": event}]),
    )


def chat_message(room_slug: str, frame: dict) -> bool:
    """Broadcast a stored chat message (its ``chat.message`` frame) to the room."""
    return send(
        groups.chat(room_slug),
        message(groups.CHAT_MESSAGE, [frame], id=frame["id"]),
    )


def _chat_signal(frame: dict, exclude_user_id: int | None) -> dict:
    return message(groups.CHAT_SIGNAL, [frame], exclude_user_id=exclude_user_id)


def chat_signal(
    room_slug: str, frame: dict, *, exclude_user_id: int | None = None
) -> bool:
    """Push an ephemeral room frame (typing, presence, read_receipt) to the room's
    sockets, except those of ``exclude_user_id``."""
    return send(groups.chat(room_slug), _chat_signal(frame, exclude_user_id))


async def achat_signal(
    room_slug: str, frame: dict, *, exclude_user_id: int | None = None
) -> bool:
    """:func:`chat_signal` for consumers. Ephemeral: a failure is logged, not raised."""
    try:
        await asend(groups.chat(room_slug), _chat_signal(frame, exclude_user_id))
    except Exception:
        metrics.PUBLISH_FAILURES.inc()
        logger.exception("chat signal to room %s failed", room_slug)
        return False
    return True


def dashboard_stats(snapshot: dict) -> bool:
    """Push a stats snapshot (already a ``stats`` frame) to every dashboard socket."""
    return send(groups.DASHBOARD, message(groups.DASHBOARD_STATS, [snapshot]))


def dashboard_metric(frame: dict) -> bool:
    """Push a custom metric's ``metric`` frame to every dashboard socket."""
    return send(groups.DASHBOARD, message(groups.DASHBOARD_METRIC, [frame]))


# --- Revocation (docs/SECURITY.md) ------------------------------------------------
# No frames: each socket that gets ``access.changed`` signs its user in again and
# re-checks what it is in, closing or leaving a topic where access is gone.


def _access_changed(credential: str | None = None) -> dict:
    return message(groups.ACCESS_CHANGED, [], credential=credential)


def access_changed(user_id: int, *, credential: str | None = None) -> bool:
    """Every socket of a user re-checks its access; with ``credential`` (a
    fingerprint, realtime.security), the sockets signed in by it close."""
    msg = _access_changed(credential)
    return send_many([(groups.user(user_id), msg), (groups.user_access(user_id), msg)])


def topic_access_changed(slug: str) -> bool:
    """Every socket following a topic re-checks it (its rule or row changed)."""
    return send(groups.topic(slug), _access_changed())


def room_access_changed(room_slug: str) -> bool:
    """Every socket in a chat room re-checks that it may stay."""
    return send(groups.chat(room_slug), _access_changed())
