"""A peer for `make bench`: python-socketio with its Redis manager, served by the
same uvicorn flags as the hub, doing what the floor does.

Every socket joins one room. ``POST /broadcast`` with ``{"event": {...}}``
answers 202 once the room emit returns, and the emit sends one ``event``,
shaped like the hub's topic frame, to every socket in the room; ``GET /healthz``
counts the sockets. With ``AsyncRedisManager`` an emit is handled on this server
at once and published to Redis for the others (none here), as the hub's
publishes would be with more web processes. ``REDIS_URL`` and
``PSIO_REDIS_CHANNEL`` (Redis pub/sub is not per database, so one per run) come
from the bench.
"""

import json
import os

import socketio

ROOM = "bench"

sio = socketio.AsyncServer(
    async_mode="asgi",
    client_manager=socketio.AsyncRedisManager(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        channel=os.environ.get("PSIO_REDIS_CHANNEL", "socketio"),
    ),
)


@sio.event
async def connect(sid, environ):
    await sio.enter_room(sid, ROOM)


async def _http(scope, receive, send) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    status, reply = 404, {"detail": "not found"}
    if scope["method"] == "POST" and scope["path"] == "/broadcast":
        event = json.loads(body or b"{}").get("event", {})
        frame = {"type": "event", "topic": "python-socketio", "event": event}
        await sio.emit("event", frame, room=ROOM)
        status, reply = 202, {}
    elif scope["path"] == "/healthz":
        status, reply = 200, {"sockets": len(sio.eio.sockets)}
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(reply).encode()})


app = socketio.ASGIApp(sio, other_asgi_app=_http)
