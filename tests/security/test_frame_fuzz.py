"""Hypothesis throws arbitrary frames at both sockets, on the real Redis channel
layer: every frame gets documented frames back (error frames included) or a
documented close, never an unhandled exception; and the user's other socket
still gets its notification afterwards.

One socket per path serves all examples (reopened only after a documented
close), driven from a long-lived event loop in a thread of its own, since
Hypothesis runs examples synchronously.
"""

import asyncio
import json
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifications.models import Notification
from tests.conftest import communicator, receive_until

pytestmark = pytest.mark.django_db(transaction=True)

FUZZ_EXAMPLES = 150
ANSWER_TIMEOUT_SECS = 5.0
# docs/PROTOCOL.md's error codes.
ERROR_CODES = {
    "invalid_json", "unknown_type", "invalid", "forbidden", "not_found",
    "rate_limited",
}  # fmt: skip
# Closes a client may cause with a frame: too big, rate limited.
FRAME_CLOSE_CODES = {1009, 4429}
HANDLED = {
    "/ws/notifications/": {
        "ping", "read", "read_all", "resume", "subscribe", "unsubscribe",
    },
    "/ws/chat/fuzz/": {"ping", "message", "typing", "read"},
}  # fmt: skip
SERVER_FRAMES = {
    "/ws/notifications/": {
        "error", "pong", "notification", "unread", "read", "event",
        "subscribed", "unsubscribed", "resumed",
    },
    "/ws/chat/fuzz/": {
        "error", "pong", "chat.message", "typing", "presence", "read_receipt",
    },
}  # fmt: skip

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
field_values = json_values | st.integers(min_value=0, max_value=2**64)
FIELDS = ("id", "last_id", "topic", "message", "ids", "event")


def typed_frames(types: list[str]):
    """Objects with a ``type`` and any of the fields frames carry, any values."""
    return st.fixed_dictionaries(
        {"type": st.sampled_from(types)},
        optional=dict.fromkeys(FIELDS, field_values),
    ).map(json.dumps)


anything_else = st.one_of(
    typed_frames(["", "hello", "error", "chat.message", "Ping"]),
    st.fixed_dictionaries({"type": json_values}).map(json.dumps),
    st.dictionaries(st.text(max_size=10), json_values, max_size=5).map(json.dumps),
    json_values.map(json.dumps),  # any JSON value: arrays, strings, null
    st.text(max_size=200),  # mostly not JSON
    st.binary(max_size=200),
    st.sampled_from(["", "[" * 40 + "]" * 40, '{"a":' * 40 + "1" + "}" * 40]),
    st.just("x" * (64 * 1024 + 1)),
)


@st.composite
def frames_for(draw, path: str):
    """Three in four frames name a type the socket handles, with any of the
    fields frames carry, holding any values; the rest are anything at all."""
    if draw(st.integers(min_value=0, max_value=3)) == 3:
        return draw(anything_else)
    return draw(typed_frames(sorted(HANDLED[path])))


class LoopThread:
    """An event loop running in a thread; ``run`` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


class FuzzedSocket:
    def __init__(self, path: str, user) -> None:
        self.path, self.user, self.comm = path, user, None

    async def open(self) -> None:
        self.comm = communicator(self.path, self.user)
        ok, _ = await self.comm.connect(timeout=ANSWER_TIMEOUT_SECS)
        assert ok
        greeting = "presence" if self.path.startswith("/ws/chat/") else "hello"
        await receive_until(self.comm, greeting, timeout=ANSWER_TIMEOUT_SECS)

    async def answers(self, frame: str | bytes) -> list[dict]:
        """Send ``frame`` and a ping; every frame up to the pong, or the close.

        An unhandled exception in the consumer is raised here by the
        communicator, failing the example."""
        if self.comm is None:
            await self.open()
        # send_input, not send_to: a real client may send an empty frame.
        key = "bytes" if isinstance(frame, bytes) else "text"
        await self.comm.send_input({"type": "websocket.receive", key: frame})
        await self.comm.send_to(text_data='{"type": "ping"}')
        got = []
        while True:
            message = await self.comm.receive_output(timeout=ANSWER_TIMEOUT_SECS)
            if message["type"] == "websocket.close":
                got.append({"close": message["code"]})
                # What the server does once the client answers the close.
                await self.comm.send_input(
                    {"type": "websocket.disconnect", "code": message["code"]}
                )
                await self.comm.wait(timeout=ANSWER_TIMEOUT_SECS)
                self.comm = None
                return got
            payload = json.loads(message["text"])
            got.append(payload)
            if payload == {"type": "pong"}:
                return got

    async def close(self) -> None:
        if self.comm is not None:
            await self.comm.disconnect()


def check_answers(path: str, answers: list[dict]) -> None:
    for answer in answers:
        if "close" in answer:
            assert answer["close"] in FRAME_CLOSE_CODES, answers
            continue
        assert answer["type"] in SERVER_FRAMES[path], answer
        if answer["type"] == "error":
            assert answer["code"] in ERROR_CODES, answer
            assert isinstance(answer["message"], str)
            assert answer["message"]


@pytest.fixture
def loop_thread():
    thread = LoopThread()
    yield thread
    thread.stop()


@pytest.mark.parametrize("path", list(SERVER_FRAMES))
def test_frames__any_frame_gets_documented_answers(alice, loop_thread, settings, path):
    # The limits have their own tests; here every frame must reach a handler.
    settings.WS_RATE_LIMIT_PER_MIN = 10_000
    settings.CHAT_MESSAGES_PER_MIN = 10_000
    fuzzed = FuzzedSocket(path, alice)
    watcher = communicator("/ws/notifications/", alice)
    assert loop_thread.run(watcher.connect())[0]
    assert loop_thread.run(watcher.receive_json_from())["type"] == "hello"

    @settings_for_fuzz
    @given(frame=frames_for(path))
    def fuzz(frame):
        check_answers(path, loop_thread.run(fuzzed.answers(frame)))

    try:
        fuzz()
        # The user's other socket still hears about a new notification.
        note = Notification.objects.create(recipient=alice, title="after the fuzz")
        pushed = loop_thread.run(receive_until(watcher, "notification", timeout=5))
        assert pushed["notification"]["id"] == note.pk
    finally:
        loop_thread.run(fuzzed.close())
        loop_thread.run(watcher.disconnect())


settings_for_fuzz = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
