"""bench.socket_memory's stand-in for uvicorn: sockets as the bench client opens."""

from bench import socket_memory
from bench.floor import app as floor


def test_scope__as_the_bench_client_opens_a_socket():
    headers = dict(socket_memory._scope("key")["headers"])

    assert headers[b"authorization"] == b"Token key"
    assert b"permessage-deflate" in headers[b"sec-websocket-extensions"]
    assert headers[b"origin"] == b"http://" + headers[b"host"]  # a browser's own


async def test_open__a_socket_counts_once_its_first_frame_is_sent():
    sockets = await socket_memory._open(floor, [None] * 3, at_once=2)

    assert [s.opened.result() for s in sockets] == ['{"type":"hello"}'] * 3
    await socket_memory._close(sockets)
    assert all(s.task.done() for s in sockets)
