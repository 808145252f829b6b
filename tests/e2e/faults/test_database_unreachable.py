"""PostgreSQL unreachable for a while, behind a TCP proxy the test cuts.

The hub's web and worker reach PostgreSQL only through the proxy; the test
process talks to it directly, to count rows. While the proxy is cut the API
answers 503 with a JSON body and a task that needs the database retries with
backoff; once it is restored the task completes and its notifications reach
the open sockets; resuming shows nothing accepted before was lost.
"""

import asyncio
import contextlib
import threading
import time

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from notifications.models import Notification
from notifications.tasks import notify_users
from tests.support.sockets import Socket, assert_once_each
from tests.support.stack import api, database_url, free_port, health, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: set DATABASE_URL",
    ),
]

PIPE_CHUNK_BYTES = 64 * 1024


class CuttableProxy:
    """A TCP proxy on a free port, on an event loop in a thread of its own.

    ``cut()`` drops every open connection and refuses new ones (accepts and
    closes them at once, as a dead network path or a restarting server does)
    until ``restore()``.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self.is_cut = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._call(self._serve())

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, client_r, client_w) -> None:
        if self.is_cut:
            client_w.transport.abort()
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            return
        self._writers |= {client_w, server_w}
        await asyncio.gather(
            self._pipe(client_r, server_w), self._pipe(server_r, client_w)
        )

    async def _pipe(self, reader, writer) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(PIPE_CHUNK_BYTES):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._writers.discard(writer)

    async def _cut(self) -> None:
        self.is_cut = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def cut(self) -> None:
        self._call(self._cut())

    def restore(self) -> None:
        self.is_cut = False

    def close(self) -> None:
        self._call(self._cut())
        self._server.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@pytest.fixture
def db_proxy():
    settings = connection.settings_dict
    proxy = CuttableProxy(
        settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)
    )
    proxy.start()
    yield proxy
    proxy.close()


def retries_logged(log_path) -> int:
    """Celery's "Task workers.notify_users[...] retry: Retry in 1.2s" lines."""
    return sum(
        "workers.notify_users" in line and "retry: Retry in" in line
        for line in log_path.read_text().splitlines()
    )


async def test_database_cut__api_503_json_tasks_retry_then_everything_goes_out(
    hub_factory, db_proxy, alice, bob, staff
):
    real = database_url()
    proxied = real.replace(
        f":{connection.settings_dict['PORT'] or 5432}/", f":{db_proxy.port}/"
    )
    assert proxied != real
    hub = hub_factory(DATABASE_URL=proxied)
    users = [alice, bob]
    sockets = [Socket(hub.ws_url, u) for u in users]
    for s in sockets:
        await s.open()
    accepted = await sync_to_async(api)(
        hub.base_url,
        staff,
        "POST",
        "/api/notifications/",
        {"recipients": [u.pk for u in users], "title": "accepted before"},
    )
    assert accepted.status_code == 201
    for s in sockets:
        await s.until_title("accepted before")
    checkpoints = [s.last_id for s in sockets]

    db_proxy.cut()
    refused = await sync_to_async(api)(
        hub.base_url,
        staff,
        "POST",
        "/api/notifications/",
        {"recipients": [alice.pk], "title": "refused"},
    )
    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/json"
    assert "detail" in refused.json()
    feed = await sync_to_async(api)(hub.base_url, alice, "GET", "/api/notifications/")
    assert feed.status_code == 503 and "detail" in feed.json()
    assert await sync_to_async(health)(hub.base_url) == 503
    report = (await sync_to_async(httpx.get)(hub.base_url + "/healthz")).json()
    assert report["db"] == "down"

    cut_at = time.monotonic()
    await sync_to_async(notify_users.delay)(
        recipient_ids=[u.pk for u in users],
        title="queued during the cut",
        idempotency_key="faults:db-cut:1",
    )
    worker_log = hub.log_dir / "worker.log"
    await sync_to_async(wait_for)(
        lambda: retries_logged(worker_log) >= 2, "the task to retry twice"
    )
    assert not await sync_to_async(
        Notification.objects.filter(title="queued during the cut").exists
    )()
    db_proxy.restore()
    print(f"database cut for {time.monotonic() - cut_at:.1f} s")

    for s in sockets:  # the retried task stores and pushes once the path is back
        await s.until_title("queued during the cut", timeout=70)
    assert await sync_to_async(health)(hub.base_url) == 200
    for s, checkpoint in zip(sockets, checkpoints, strict=True):
        await s.resume(checkpoint)
        expected = set(
            await sync_to_async(list)(
                Notification.objects.filter(recipient=s.user).values_list(
                    "pk", flat=True
                )
            )
        )
        assert len(expected) == 2  # "accepted before" and the retried task's
        assert_once_each(s, expected)
        await s.close()
