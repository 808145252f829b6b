"""A scripted HTTP server on a free local port that stands in for the hub.

It answers each request with the next scripted answer (then 200 ``{}``) and records
what it was sent, so the client's retries, headers and timeouts are tested over
real sockets, not a mocked transport.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hub_client import AsyncHubClient, HubClient


@dataclass
class Answer:
    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    # Hold the answer this long: how a slow hub looks to a client with a timeout.
    delay_secs: float = 0.0
    # Close the connection without answering.
    drop: bool = False


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float


class FakeHub:
    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    def _next(self, seen: Seen) -> Answer:
        with self.lock:
            self.requests.append(seen)
            return self.answers.pop(0) if self.answers else Answer()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                seen = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    json.loads(raw) if raw else None,
                    time.monotonic(),
                )
                answer = hub._next(seen)
                if answer.delay_secs:
                    hub.released.wait(answer.delay_secs)
                if answer.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                payload = b"" if answer.body is None else json.dumps(answer.body)
                payload = payload.encode() if isinstance(payload, str) else payload
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> None:
        threading.Thread(
            target=self.server.serve_forever, args=(0.05,), daemon=True
        ).start()

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_hub():
    hub = FakeHub()
    hub.start()
    yield hub
    hub.stop()


# Fast retries for tests; the backoff arithmetic itself is tested on its own.
FAST_RETRIES = {"backoff_base_secs": 0.01, "backoff_max_secs": 2.0}


@pytest.fixture
def hub(fake_hub):
    with HubClient(fake_hub.base_url, "test-key", **FAST_RETRIES) as hub:
        yield hub


@pytest.fixture
async def async_hub(fake_hub):
    async with AsyncHubClient(fake_hub.base_url, "test-key", **FAST_RETRIES) as hub:
        yield hub
