"""The floor: a bare ASGI app that broadcasts in-process, served by the same
uvicorn flags as the hub, so the bench can tell the hub's cost from uvicorn's
and the load client's.

Every WebSocket is accepted and sent a ``hello`` frame, like the hub's. ``POST
/broadcast`` with ``{"event": {...}}`` answers 202 and sends one frame, shaped
like the hub's topic ``event`` frame and encoded once, to every open socket.
"""

import asyncio
import json

_sockets: set = set()
_tasks: set = set()


async def _broadcast(text: str) -> None:
    for send in list(_sockets):
        try:
            await send({"type": "websocket.send", "text": text})
        except Exception:  # noqa: BLE001 (a socket closing mid-broadcast)
            _sockets.discard(send)


async def _websocket(scope, receive, send) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": '{"type":"hello"}'})
    _sockets.add(send)
    try:
        while (await receive())["type"] != "websocket.disconnect":
            pass
    finally:
        _sockets.discard(send)


async def _http(scope, receive, send) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    status, reply = 404, b'{"detail":"not found"}'
    if scope["method"] == "POST" and scope["path"] == "/broadcast":
        event = json.loads(body or b"{}").get("event", {})
        text = json.dumps(
            {"type": "event", "topic": "floor", "event": event}, separators=(",", ":")
        )
        task = asyncio.get_running_loop().create_task(_broadcast(text))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        status, reply = 202, b"{}"
    elif scope["path"] == "/healthz":
        status, reply = 200, json.dumps({"sockets": len(_sockets)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": reply})


async def app(scope, receive, send) -> None:
    if scope["type"] == "websocket":
        await _websocket(scope, receive, send)
    elif scope["type"] == "http":
        await _http(scope, receive, send)
    elif scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
