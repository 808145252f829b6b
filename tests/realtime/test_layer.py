"""The hub's channel layer (inboxes, shared decoding) and the consumer loop on it.

Against the real Redis the suite uses (settings CHANNEL_LAYERS); the in-memory
layer only where the consumer's path for other layers is under test.
"""

import asyncio
import json
import time

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import override_settings
from redis.asyncio import Redis

from hub import metrics
from realtime import groups, publish
from realtime.consumers import CLOSE_TOO_BIG
from realtime.layer import HubPubSubChannelLayer, Inbox, Item, Kind
from tests.conftest import communicator, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


async def test_inbox__hands_items_out_in_arrival_order():
    inbox = Inbox()
    inbox.put_nowait(b"one")
    inbox.put(Item(Kind.CLIENT, {"type": "websocket.receive"}))
    inbox.put_nowait(b"three")

    got = [await inbox.get() for _ in range(3)]

    assert got == [
        Item(Kind.RAW, b"one"),
        Item(Kind.CLIENT, {"type": "websocket.receive"}),
        Item(Kind.RAW, b"three"),
    ]
    assert inbox.empty()


async def test_inbox__get_waits_for_the_next_put():
    inbox = Inbox()
    waiting = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)  # let it start waiting
    assert not waiting.done()

    inbox.put_nowait(b"late")

    assert await asyncio.wait_for(waiting, timeout=1) == Item(Kind.RAW, b"late")


def test_settings__run_on_the_hubs_layer():
    assert isinstance(get_channel_layer(), HubPubSubChannelLayer)


async def _numsub(layer, channel: str) -> int:
    """Subscribers of a consumer's own Redis channel (PUBSUB NUMSUB)."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    try:
        [(_, count)] = await client.pubsub_numsub(channel)
    finally:
        await client.aclose()
    return count


async def test_group_send__each_member_gets_its_own_copy():
    layer = get_channel_layer()
    channels = [await layer.new_channel() for _ in range(3)]
    for channel in channels:
        await layer.group_add("layer-copies", channel)

    await layer.group_send("layer-copies", {"type": "topic.event", "frames": ["x"]})
    messages = [
        await asyncio.wait_for(layer.receive(channel), timeout=3)
        for channel in channels
    ]
    messages[0]["frames"] = ["changed by one consumer"]

    assert messages[1] == messages[2] == {"type": "topic.event", "frames": ["x"]}
    assert messages[0] is not messages[1]
    for channel in channels:
        await layer.group_discard("layer-copies", channel)
        await layer.loop_layer().discard_channel(channel)


async def test_new_channel__an_inbox_without_a_redis_subscription():
    """The hub delivers to groups only: a consumer's own channel costs no
    SUBSCRIBE, and a send from this process still reaches it."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    assert channel in layer.loop_layer().channels
    assert await _numsub(layer, channel) == 0

    await layer.send(channel, {"type": "topic.event", "frames": ["x"]})
    message = await asyncio.wait_for(layer.receive(channel), timeout=3)

    assert message == {"type": "topic.event", "frames": ["x"]}
    await layer.loop_layer().discard_channel(channel)
    assert channel not in layer.loop_layer().channels


async def test_group_discard__groups_left_at_once_are_unsubscribed_together():
    """Groups left by their last member in one turn of the loop (a process
    shutting down) go in one UNSUBSCRIBE; each is gone from Redis when its
    group_discard returns, and one joined again meanwhile keeps its
    subscription and its messages."""
    layer = get_channel_layer()
    loop_layer = layer.loop_layer()
    names = [f"leave-at-once-{i}" for i in range(50)]
    members = [await layer.new_channel() for _ in names]
    for name, channel in zip(names, members, strict=True):
        await layer.group_add(name, channel)
    newcomer = await layer.new_channel()

    await asyncio.gather(
        *(
            layer.group_discard(name, channel)
            for name, channel in zip(names, members, strict=True)
        ),
        layer.group_add(names[0], newcomer),
    )

    for name in names[1:]:
        assert await _numsub(layer, loop_layer.route(name)[1]) == 0, name
    assert await _numsub(layer, loop_layer.route(names[0])[1]) == 1
    await layer.group_send(names[0], {"type": "x.y", "n": 1})
    assert await asyncio.wait_for(layer.receive(newcomer), 3) == {"type": "x.y", "n": 1}
    await layer.group_discard(names[0], newcomer)
    for channel in [*members, newcomer]:
        await loop_layer.discard_channel(channel)


async def test_group_add__groups_joined_at_once_each_get_their_messages():
    """Groups joined in one turn of the loop (a connect storm) go in one
    SUBSCRIBE; each is subscribed when its group_add returns, and one left
    again before the batch went is not subscribed for nobody."""
    layer = get_channel_layer()
    loop_layer = layer.loop_layer()
    names = [f"join-at-once-{i}" for i in range(50)]
    members = [await layer.new_channel() for _ in names]

    await asyncio.gather(
        *(
            layer.group_add(name, channel)
            for name, channel in zip(names, members, strict=True)
        )
    )

    for name in names:
        assert await _numsub(layer, loop_layer.route(name)[1]) == 1, name
    for i, name in enumerate(names):
        await layer.group_send(name, {"type": "x.y", "n": i})
    for i, channel in enumerate(members):
        assert await asyncio.wait_for(layer.receive(channel), 3) == {
            "type": "x.y", "n": i,
        }  # fmt: skip

    gone = await layer.new_channel()
    joining = asyncio.ensure_future(layer.group_add("join-then-leave", gone))
    await asyncio.sleep(0)  # one turn: the add is in, its SUBSCRIBE not sent
    assert not joining.done()
    await layer.group_discard("join-then-leave", gone)
    await joining
    assert await _numsub(layer, loop_layer.route("join-then-leave")[1]) == 0
    for name, channel in zip(names, members, strict=True):
        await layer.group_discard(name, channel)
    for channel in [*members, gone]:
        await loop_layer.discard_channel(channel)


async def _connected_channel(user) -> tuple:
    """A socket for ``user`` past its hello, and the name of its channel."""
    layer = get_channel_layer()
    before = set(layer.loop_layer().channels)
    comm = communicator("/ws/notifications/", user)
    assert (await comm.connect())[0]
    await receive_until(comm, "hello")
    [channel] = set(layer.loop_layer().channels) - before
    return comm, channel


async def test_consumer__layer_messages_arrive_in_the_order_sent(alice):
    comm, channel = await _connected_channel(alice)
    layer = get_channel_layer()

    for seq in range(20):
        frame = f'{{"type":"event","seq":{seq}}}'
        await layer.send(channel, {"type": "topic.event", "frames": [frame]})

    got = [(await comm.receive_json_from(timeout=3))["seq"] for _ in range(20)]
    assert got == list(range(20))
    await comm.disconnect()


async def test_consumer__client_frames_are_answered_between_layer_messages(alice):
    comm, channel = await _connected_channel(alice)
    layer = get_channel_layer()

    await comm.send_json_to({"type": "ping"})
    await layer.send(channel, {"type": "topic.event", "frames": ['{"type":"event"}']})
    await comm.send_json_to({"type": "ping"})

    got = [(await comm.receive_json_from(timeout=3))["type"] for _ in range(3)]
    assert sorted(got) == ["event", "pong", "pong"]
    await comm.disconnect()


async def test_consumer__disconnect_leaves_no_channel_behind(alice):
    comm, channel = await _connected_channel(alice)
    layer = get_channel_layer()

    await comm.disconnect()

    assert channel not in layer.loop_layer().channels
    assert await _numsub(layer, channel) == 0


@override_settings(
    CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
)
async def test_consumer__on_another_layer_still_gets_group_messages(alice):
    from channels.layers import channel_layers

    channel_layers.backends.clear()  # build the in-memory layer from the override
    try:
        comm = communicator("/ws/notifications/", alice)
        assert (await comm.connect())[0]
        await receive_until(comm, "hello")

        await get_channel_layer().group_send(
            groups.user(alice.pk),
            {"type": "notification.read", "frames": ['{"type":"unread","unread":0}']},
        )

        assert await receive_until(comm, "unread") == {"type": "unread", "unread": 0}
        await comm.send_json_to({"type": "ping"})
        assert await receive_until(comm, "pong") == {"type": "pong"}
        await comm.disconnect()
    finally:
        channel_layers.backends.clear()


# --- group messages handled in the layer's reader (HubConsumer.inline_events) ---


class Server:
    """The server's side of one socket, for a consumer run without one.

    The client's messages come from a queue; every frame sent is recorded with
    the task that made the send. ``pause()`` makes sends wait, as uvicorn's do
    while a slow client leaves the transport's buffer full; ``held`` is set
    once a send waits.
    """

    def __init__(self, user) -> None:
        self.scope = {
            "type": "websocket",
            "path": "/ws/notifications/",
            "headers": [],
            "query_string": b"",
            "subprotocols": [],
            "user": user,
        }
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.frames: asyncio.Queue = asyncio.Queue()  # (message, task) per send
        self.writable = asyncio.Event()
        self.writable.set()
        self.held = asyncio.Event()
        self.fail_with: Exception | None = None
        self.task: asyncio.Task | None = None

    async def receive(self) -> dict:
        return await self.incoming.get()

    async def send(self, message: dict) -> None:
        if self.fail_with is not None and message["type"] == "websocket.send":
            raise self.fail_with
        if not self.writable.is_set():
            self.held.set()
            await self.writable.wait()
        self.frames.put_nowait((message, asyncio.current_task()))

    def client_sends(self, text: str) -> None:
        self.incoming.put_nowait({"type": "websocket.receive", "text": text})

    def pause(self) -> None:
        self.writable.clear()
        self.held.clear()

    async def next(self) -> tuple[dict, asyncio.Task]:
        """The next message sent, and the task that sent it."""
        return await asyncio.wait_for(self.frames.get(), timeout=3)

    async def next_text(self) -> str:
        message, _ = await self.next()
        return message["text"]


async def _served(user) -> tuple[Server, str]:
    """A NotificationConsumer of ``user`` past its hello, and its channel."""
    from notifications.consumers import NotificationConsumer

    layer = get_channel_layer()
    before = set(layer.loop_layer().channels)
    server = Server(user)
    app = NotificationConsumer.as_asgi()
    server.task = asyncio.create_task(app(server.scope, server.receive, server.send))
    server.incoming.put_nowait({"type": "websocket.connect"})
    assert (await server.next())[0]["type"] == "websocket.accept"
    assert '"hello"' in await server.next_text()
    [channel] = set(layer.loop_layer().channels) - before
    return server, channel


async def _disconnect(server: Server) -> None:
    server.writable.set()
    server.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(server.task, timeout=3)


def _event(seq: int) -> dict:
    return publish.message(groups.TOPIC_EVENT, [{"type": "event", "seq": seq}])


def _seq(message: dict) -> int:
    return json.loads(message["text"])["seq"]


async def test_consumer__idle_is_sent_group_events_by_the_layers_reader(alice):
    server, _ = await _served(alice)

    await publish.asend(groups.user(alice.pk), _event(1))
    message, sender = await server.next()

    assert _seq(message) == 1
    assert sender is not server.task  # no wake-up of the consumer's task
    await _disconnect(server)


async def test_consumer__events_keep_their_order_across_a_held_send(alice):
    held, _ = await _served(alice)
    marker, _ = await _served(alice)  # in the same group, never held
    group = groups.user(alice.pk)
    held.pause()

    await publish.asend(group, _event(0))  # starts in the reader, then waits
    await asyncio.wait_for(held.held.wait(), timeout=3)
    for seq in (1, 2):
        await publish.asend(group, _event(seq))
    held.client_sends('{"type":"ping"}')
    await publish.asend(group, _event(3))
    # The reader puts a message into every member's inbox in one go: once the
    # marker has 3, the held socket's inbox has it too, behind 0, 1 and 2.
    assert [_seq((await marker.next())[0]) for _ in range(4)] == [0, 1, 2, 3]
    held.writable.set()

    got = [await held.next() for _ in range(5)]
    texts = [json.loads(message["text"]) for message, _ in got]
    assert [t["seq"] for t in texts if t["type"] == "event"] == [0, 1, 2, 3]
    assert {"type": "pong"} in texts
    assert all(sender is held.task for _, sender in got)  # queued for its task

    # Idle again: the next event is handled in the reader once more.
    await publish.asend(group, _event(4))
    message, sender = await held.next()
    assert _seq(message) == 4
    assert sender is not held.task
    for server in (held, marker):
        await _disconnect(server)


async def test_consumer__a_held_socket_does_not_delay_the_group(alice):
    slow = [(await _served(alice))[0] for _ in range(3)]
    fast = [(await _served(alice))[0] for _ in range(3)]
    for server in slow:
        server.pause()

    for seq in range(3):
        await publish.asend(groups.user(alice.pk), _event(seq))

    for server in fast:
        assert [_seq((await server.next())[0]) for _ in range(3)] == [0, 1, 2]
    for server in slow:
        await asyncio.wait_for(server.held.wait(), timeout=3)
        assert server.frames.empty()
        server.writable.set()
        assert [_seq((await server.next())[0]) for _ in range(3)] == [0, 1, 2]
    for server in slow + fast:
        await _disconnect(server)


async def test_consumer__resume_skips_a_replayed_notification_pushed_later(alice):
    from notifications.models import Notification

    replayed = await Notification.objects.acreate(recipient=alice, title="missed")
    server, _ = await _served(alice)
    server.client_sends('{"type":"resume","last_id":0}')
    assert json.loads(await server.next_text())["notification"]["id"] == replayed.pk
    assert json.loads(await server.next_text())["type"] == "resumed"
    delivered = metrics.NOTIFICATIONS_DELIVERED._value.get()

    for notification_id in (replayed.pk, replayed.pk + 1):
        frame = {"type": "notification", "notification": {"id": notification_id}}
        await publish.asend(
            groups.user(alice.pk),
            publish.message(groups.NOTIFICATION_CREATED, [frame], id=notification_id),
        )

    message, sender = await server.next()
    assert json.loads(message["text"])["notification"]["id"] == replayed.pk + 1
    assert sender is not server.task
    assert metrics.NOTIFICATIONS_DELIVERED._value.get() == delivered + 1
    await _disconnect(server)


async def test_consumer__closed_is_sent_nothing_more_in_a_fan_out(alice):
    closing, _ = await _served(alice)
    other, _ = await _served(alice)
    group = groups.user(alice.pk)

    closing.client_sends("x" * (settings.WS_MAX_FRAME_BYTES + 1))
    closed, _ = await closing.next()
    assert (closed["type"], closed["code"]) == ("websocket.close", CLOSE_TOO_BIG)
    await publish.asend(group, _event(1))
    assert _seq((await other.next())[0]) == 1
    await _disconnect(closing)  # handles, in order, the event then the disconnect

    assert closing.frames.empty()
    assert closing.task.exception() is None
    await _disconnect(other)


async def test_consumer__a_failed_send_ends_that_consumer_only(alice):
    from uvicorn.protocols.utils import ClientDisconnected

    failing, channel = await _served(alice)
    others = [(await _served(alice))[0] for _ in range(3)]
    failing.fail_with = ClientDisconnected()
    group = groups.user(alice.pk)

    await publish.asend(group, _event(1))
    with pytest.raises(ClientDisconnected):  # as when its own task sends
        await asyncio.wait_for(failing.task, timeout=3)
    await publish.asend(group, _event(2))

    for server in others:
        assert [_seq((await server.next())[0]) for _ in range(2)] == [1, 2]
    assert channel not in get_channel_layer().loop_layer().channels
    for server in others:
        await _disconnect(server)


async def test_consumer__on_channels_loop_when_inline_fanout_is_off(alice, settings):
    settings.WS_INLINE_FANOUT = False
    server, channel = await _served(alice)

    await publish.asend(groups.user(alice.pk), _event(1))
    message, sender = await server.next()

    assert _seq(message) == 1
    assert sender is server.task  # woken for it, not sent by the layer's reader
    assert get_channel_layer().loop_layer().inbox(channel).handle_now is None
    await _disconnect(server)


@pytest.fixture
def restartable_redis(tmp_path):
    from tools.redis_server import RedisServer

    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


async def test_restart__first_publish_after_it_goes_out(restartable_redis):
    """channels_redis alone fails it: its pooled connection died with Redis
    (``reconnect_retries=0`` shows it)."""
    layer = HubPubSubChannelLayer(hosts=[restartable_redis.url], prefix="restart")
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    await layer.group_send("g", {"type": "x.y", "n": 1})
    assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 1

    restartable_redis.kill()
    restartable_redis.start()
    await layer.group_send("g", {"type": "x.y", "n": 2})

    received = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(2)]
    assert {"type": "x.y", "n": 2} in received
    await layer.flush()


async def test_restart__consumers_are_told_once_subscribed_again(restartable_redis):
    layer = HubPubSubChannelLayer(hosts=[restartable_redis.url], prefix="restart")
    channel = await layer.new_channel()
    await layer.group_add("g", channel)

    restartable_redis.kill()
    restartable_redis.start()

    event = await asyncio.wait_for(layer.receive(channel), 10)
    assert event == {"type": groups.LAYER_RECONNECTED}
    # Told after Redis took the SUBSCRIBEs again: a publish now reaches us.
    await layer.group_send("g", {"type": "x.y", "n": 3})
    assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "x.y", "n": 3}
    await layer.flush()


async def _until_deaf(shard) -> None:
    """Until the shard's subscriber has found its connection gone (a command
    then has to connect, and fails while Redis is down)."""
    deadline = time.monotonic() + 10
    while shard._pubsub.connection.is_connected:
        assert time.monotonic() < deadline, "the subscriber never noticed"
        await asyncio.sleep(0.02)  # polling the reader channels_redis runs


async def test_restart__leaving_while_redis_is_down_unsubscribes_once_back(
    restartable_redis,
):
    """A socket closing during an outage leaves its groups and its channel:
    that raised ConnectionError (uvicorn logged "Exception in ASGI
    application"), and redis-py kept both subscriptions for good."""
    layer = HubPubSubChannelLayer(hosts=[restartable_redis.url], prefix="restart")
    staying = await layer.new_channel()
    leaving = await layer.new_channel()
    await layer.group_add("stays", staying)
    await layer.group_add("goes", leaving)
    loop_layer = layer.loop_layer()
    _, group_channel = loop_layer.route("goes")

    restartable_redis.kill()
    await _until_deaf(loop_layer.shards()[0])
    await layer.group_discard("goes", leaving)
    await loop_layer.discard_channel(leaving)
    restartable_redis.start()

    event = await asyncio.wait_for(layer.receive(staying), 10)
    assert event == {"type": groups.LAYER_RECONNECTED}
    redis = Redis.from_url(restartable_redis.url)
    deadline = time.monotonic() + 10
    while dict(await redis.pubsub_numsub(group_channel, leaving)) != {
        group_channel.encode(): 0,
        leaving.encode(): 0,
    }:
        assert time.monotonic() < deadline, "still subscribed"
        await asyncio.sleep(0.02)  # the layer unsubscribes in a task of its own
    await layer.group_send("stays", {"type": "x.y", "n": 4})
    assert await asyncio.wait_for(layer.receive(staying), 5) == {"type": "x.y", "n": 4}
    await redis.aclose()
    await layer.flush()


def test_layer__written_against_these_channels_and_channels_redis_versions():
    """realtime/layer.py subclasses channels_redis' pub/sub layer and uses the
    private names its docstring lists. After an upgrade, read them again in
    the new version, then update these pins."""
    from importlib.metadata import version

    assert (version("channels"), version("channels-redis")) == ("4.3.2", "4.3.0")


def test_layer__written_against_this_redis_py_version():
    """The reconnect hook relies on redis-py's ``PubSub.on_connect`` (called on
    every reconnect, after which it subscribes again) and
    ``Connection.send_command``; read them again after an upgrade."""
    from importlib.metadata import version

    assert version("redis") == "8.1.0"
