"""WebSocket clients for end-to-end tests that count, by id, every notification
they are pushed live or replayed by ``resume``."""

import asyncio
import json
import time
from collections import Counter

from websockets.asyncio.client import connect

FRAME_TIMEOUT_SECS = 10.0


class Socket:
    """A /ws/notifications/ client that records every notification id it sees.

    ``live`` counts ids pushed live on this connection; ``resumed`` ids replayed
    by ``resume``; ``last_id`` is the highest id seen, what a client resumes from.
    """

    def __init__(self, ws_url: str, user) -> None:
        self.ws_url = ws_url
        self.user = user
        self.live: Counter[int] = Counter()
        self.resumed: Counter[int] = Counter()
        self.titles: dict[int, str] = {}
        self.last_id = 0
        self.ws = None

    async def open(self, ws_url: str | None = None) -> dict:
        self.ws_url = ws_url or self.ws_url
        self.ws = await connect(
            self.ws_url + "/ws/notifications/",
            additional_headers={"Authorization": f"Token {self.user.auth_token.key}"},
        )
        hello = await self.frame()
        assert hello["type"] == "hello"
        if not self.last_id:
            self.last_id = hello["last_id"]
        return hello

    async def frame(self, timeout: float = FRAME_TIMEOUT_SECS) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    def _record(self, frame: dict, into: Counter) -> None:
        n = frame["notification"]
        into[n["id"]] += 1
        self.titles[n["id"]] = n["title"]
        self.last_id = max(self.last_id, n["id"])

    async def until_title(self, title: str, timeout: float = FRAME_TIMEOUT_SECS):
        """Read live frames until the notification titled ``title`` arrives."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.frame(max(0.01, deadline - time.monotonic()))
            if frame["type"] == "notification":
                self._record(frame, self.live)
                if frame["notification"]["title"] == title:
                    return frame

    async def resume(self, last_id: int | None = None) -> int:
        """Resume from ``last_id`` (default: the highest id seen); record what
        comes; return the count."""
        after = self.last_id if last_id is None else last_id
        count = 0
        while True:
            await self.ws.send(json.dumps({"type": "resume", "last_id": after}))
            while (frame := await self.frame())["type"] != "resumed":
                if frame["type"] == "notification":
                    self._record(frame, self.resumed)
            count += frame["count"]
            if not frame.get("more"):
                return count
            after = frame["last_id"]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def assert_once_each(sock: Socket, expected_ids: set[int]) -> None:
    """Every expected id reached this socket, none twice live, none twice by
    resume, nothing else: what a client that ignores ids it has ends up with."""
    seen = set(sock.live) | set(sock.resumed)
    twice = {i: c for i, c in (sock.live | sock.resumed).items() if c > 1}
    who = sock.user.username
    assert not expected_ids - seen, f"{who} lost {sorted(expected_ids - seen)}"
    assert not twice, f"{who} got duplicates {twice}"
    assert not seen - expected_ids, f"{who} got others' {sorted(seen - expected_ids)}"
