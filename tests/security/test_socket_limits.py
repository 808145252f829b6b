"""Frame size, JSON depth and frame rate limits, on both socket paths."""

import gc
import json

import pytest

from tests.conftest import communicator, receive_until

pytestmark = pytest.mark.django_db(transaction=True)

PATHS = ["/ws/notifications/", "/ws/chat/lobby/"]


async def open_socket(path: str, user):
    """A socket past its greeting: hello, or history and presence."""
    comm = communicator(path, user)
    assert (await comm.connect())[0]
    if path.startswith("/ws/chat/"):
        await receive_until(comm, "presence")
    else:
        assert (await comm.receive_json_from(timeout=3))["type"] == "hello"
    return comm


def ping_of_bytes(size: int, pad_char: str = "x") -> str:
    """A ping frame whose UTF-8 encoding is exactly ``size`` bytes."""
    empty = len(json.dumps({"type": "ping", "pad": ""}).encode())
    per_char = len(pad_char.encode())
    frame = json.dumps(
        {"type": "ping", "pad": pad_char * ((size - empty) // per_char)},
        ensure_ascii=False,
    )
    frame += " " * (size - len(frame.encode()))  # whitespace after JSON is JSON
    assert len(frame.encode()) == size
    return frame


async def pong_follows(comm) -> bool:
    await comm.send_json_to({"type": "ping"})
    return await comm.receive_json_from(timeout=3) == {"type": "pong"}


@pytest.mark.parametrize("path", PATHS)
async def test_frame_size__at_the_limit_is_read(alice, settings, path):
    comm = await open_socket(path, alice)

    await comm.send_to(text_data=ping_of_bytes(settings.WS_MAX_FRAME_BYTES))

    assert await comm.receive_json_from(timeout=3) == {"type": "pong"}
    await comm.disconnect()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "pad_char", ["x", "é", "😀"], ids=["ascii", "2-byte", "4-byte"]
)
async def test_frame_size__one_byte_over_closes_1009(alice, settings, path, pad_char):
    """The limit counts encoded bytes, not characters."""
    comm = await open_socket(path, alice)
    size = settings.WS_MAX_FRAME_BYTES + len(pad_char.encode())

    await comm.send_to(text_data=ping_of_bytes(size, pad_char))

    closed = await comm.receive_output(timeout=3)
    assert (closed["type"], closed["code"]) == ("websocket.close", 1009)


@pytest.mark.parametrize("path", PATHS)
async def test_frame_size__binary_over_the_limit_closes_1009(alice, settings, path):
    comm = await open_socket(path, alice)

    await comm.send_to(bytes_data=b"\x00" * (settings.WS_MAX_FRAME_BYTES + 1))

    assert (await comm.receive_output(timeout=3))["code"] == 1009


@pytest.mark.parametrize("path", PATHS)
async def test_json_depth__at_the_limit_is_parsed(alice, path):
    comm = await open_socket(path, alice)
    nested = "[" * 31 + "]" * 31  # inside the frame object: 32 deep

    await comm.send_to(text_data='{"type": "ping", "pad": ' + nested + "}")

    assert await comm.receive_json_from(timeout=3) == {"type": "pong"}
    await comm.disconnect()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("depth", [33, 10_000])
async def test_json_depth__past_the_limit_is_invalid_json(alice, path, depth):
    comm = await open_socket(path, alice)
    nested = "[" * (depth - 1) + "]" * (depth - 1)

    await comm.send_to(text_data='{"type": "ping", "pad": ' + nested + "}")

    error = await comm.receive_json_from(timeout=3)
    assert (error["type"], error["code"]) == ("error", "invalid_json")
    assert "32" in error["message"]
    assert await pong_follows(comm)
    await comm.disconnect()


@pytest.mark.parametrize("path", PATHS)
async def test_frame_rate__rate_limited_errors_then_close_4429(alice, settings, path):
    settings.WS_RATE_LIMIT_PER_MIN = 5
    settings.WS_RATE_LIMIT_CLOSE_AFTER = 3
    comm = await open_socket(path, alice)

    pongs = [await pong_follows(comm) for _ in range(5)]
    errors = []
    for _ in range(3):
        await comm.send_json_to({"type": "ping"})
        errors.append(await comm.receive_json_from(timeout=3))
    await comm.send_json_to({"type": "ping"})
    closed = await comm.receive_output(timeout=3)

    assert pongs == [True] * 5
    assert [(e["type"], e["code"]) for e in errors] == [("error", "rate_limited")] * 3
    assert "5 frames a minute" in errors[0]["message"]
    assert (closed["type"], closed["code"]) == ("websocket.close", 4429)
    await comm.send_json_to({"type": "ping"})  # nothing is sent after the close
    assert await comm.receive_nothing(timeout=0.2)


async def test_sockets_per_user__one_more_on_any_endpoint_closes_4429(
    alice, bob, settings
):
    """All endpoints count together; other users are not affected; a closed
    socket makes room."""
    settings.WS_MAX_SOCKETS_PER_USER = 2
    first = await open_socket("/ws/notifications/", alice)
    second = await open_socket("/ws/chat/lobby/", alice)

    third = communicator("/ws/chat/lobby/", alice)
    assert (await third.connect())[0]  # accepted, then closed: browsers read the code
    closed = await third.receive_output(timeout=3)

    assert (closed["type"], closed["code"]) == ("websocket.close", 4429)
    assert "more than 2 open sockets" in closed["reason"]
    others = await open_socket("/ws/notifications/", bob)
    await first.disconnect()
    again = await open_socket("/ws/notifications/", alice)
    for comm in (second, others, again):
        await comm.disconnect()


async def test_frame_budget__one_users_sockets_share_it_then_close_4429(
    alice, bob, settings
):
    """Two sockets under their own limit, over their user's together."""
    settings.WS_RATE_LIMIT_PER_MIN = 100
    settings.WS_USER_RATE_LIMIT_PER_MIN = 4
    settings.WS_RATE_LIMIT_CLOSE_AFTER = 1
    tabs = [await open_socket(path, alice) for path in PATHS]
    others = await open_socket("/ws/notifications/", bob)

    pongs = [await pong_follows(tab) for tab in tabs for _ in range(2)]
    await tabs[0].send_json_to({"type": "ping"})
    error = await tabs[0].receive_json_from(timeout=3)
    await tabs[1].send_json_to({"type": "ping"})
    closed = await tabs[1].receive_output(timeout=3)

    assert pongs == [True] * 4
    assert (error["type"], error["code"]) == ("error", "rate_limited")
    assert "4 frames from all your sockets a minute" in error["message"]
    assert (closed["type"], closed["code"]) == ("websocket.close", 4429)
    assert await pong_follows(others)
    await others.disconnect()


async def test_frame_budget__not_refilled_by_closing_every_socket_and_reopening(
    alice, settings
):
    settings.WS_RATE_LIMIT_PER_MIN = 100
    settings.WS_USER_RATE_LIMIT_PER_MIN = 2
    first = await open_socket("/ws/notifications/", alice)
    assert [await pong_follows(first) for _ in range(2)] == [True, True]
    await first.disconnect()
    del first
    gc.collect()  # nothing of the closed socket is left to hold the budget

    again = await open_socket("/ws/notifications/", alice)
    await again.send_json_to({"type": "ping"})
    error = await again.receive_json_from(timeout=3)

    assert (error["type"], error["code"]) == ("error", "rate_limited")
    await again.disconnect()
