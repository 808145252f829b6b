"""The web process's HTTP handler: Django's ASGI handler, one thread hop a request.

Django's ``ASGIHandler`` runs the middleware chain in async mode. Every
middleware here is synchronous, so each of its ``process_request`` and
``process_response`` is a ``sync_to_async`` hop of its own (16 for the chain in
settings.MIDDLEWARE, plus the view, the two request signals and
``response.close``), and all of them go to a thread made for that one request
(asgiref's ``ThreadSensitiveContext``). A thread of its own means a database
connection of its own: ``CONN_MAX_AGE`` kept nothing, and every request opened
a new PostgreSQL connection (docs/PERFORMANCE.md has what that cost).

``HubASGIHandler`` builds the chain in sync mode, as the WSGI handler does, and
runs the whole request in one call on a fixed pool of threads
(``settings.HTTP_THREADS``): ``request_started``, the chain and the view, and,
for a response whose body is already in memory, ``response.close()`` (which
sends ``request_finished``). Each thread keeps its own persistent connection,
health-checked at the start of each request (``CONN_HEALTH_CHECKS``), so a
database restart costs one failed request per thread at most.

Not kept from Django's handler: cancelling the view when the client goes away
mid-request. A sync view runs to its end in its thread either way; Django's
handler only stopped waiting for it.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor, wait

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import connections
from django.http import FileResponse, HttpRequest, HttpResponseBase, JsonResponse
from django.urls import set_script_prefix


class BodyTooLarge(Exception):
    """The request body is longer than HTTP_MAX_BODY_BYTES."""


class HubASGIHandler(ASGIHandler):
    """Django's ASGI handler with the sync middleware chain run in one hop."""

    def __init__(self) -> None:
        # ASGIHandler.__init__ would build the chain in async mode.
        self.load_middleware(is_async=False)
        self._threads = ThreadPoolExecutor(
            max_workers=settings.HTTP_THREADS, thread_name_prefix="hub-http"
        )
        self._respond_in_thread = sync_to_async(
            self._respond, thread_sensitive=False, executor=self._threads
        )
        self._close_in_thread = sync_to_async(
            self._close, thread_sensitive=False, executor=self._threads
        )

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django serves HTTP connections, not {scope['type']}")
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        except BodyTooLarge:
            # The rest of the body is never read; the server closes the
            # connection after the answer (uvicorn does when a body is unread).
            await self.send_response(
                JsonResponse({"detail": "Request body too large."}, status=413), send
            )
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                await self.send_response(error_response, send)
                return
            response = await self._respond_in_thread(request)
            await self.send_response(response, send)
            if response.streaming:
                # Its body was produced while sending: close it after.
                await self._close_in_thread(response)
        finally:
            body_file.close()

    async def read_body(self, receive):
        """Django's body reader, stopping once past HTTP_MAX_BODY_BYTES.

        Django's reads the whole body (spooled to disk) before any limit is
        checked, so one client could make a web process take in gigabytes.
        """
        limit = settings.HTTP_MAX_BODY_BYTES
        received = 0

        async def counted_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge()
            return message

        return await super().read_body(counted_receive)

    def _respond(self, request: HttpRequest) -> HttpResponseBase:
        """The whole request in this thread: signals, middleware, view."""
        signals.request_started.send(sender=self.__class__, scope=request.scope)
        response = self.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size  # the server chunks, as Django's does
        if not response.streaming:
            # The body is in memory already; closing now hands this thread's
            # database connection back before the bytes go out.
            response.close()
        return response

    @staticmethod
    def _close(response: HttpResponseBase) -> None:
        response.close()

    def close_connections(self, timeout_secs: float = 5.0) -> None:
        """Close every thread's database connections (at shutdown, in tests).

        Each of the pool's threads holds its own; one call per thread, all
        held at a barrier until every thread has one. A thread still busy in a
        request after ``timeout_secs`` keeps its connection.
        """
        threads = self._threads._max_workers
        everyone_in = threading.Barrier(threads, timeout=timeout_secs)

        def close_this_threads() -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                everyone_in.wait()
            connections.close_all()

        wait(
            [self._threads.submit(close_this_threads) for _ in range(threads)],
            timeout=timeout_secs * 2,
        )


def get_http_application() -> HubASGIHandler:
    """Set Django up and return the web process's HTTP handler."""
    import django

    django.setup(set_prefix=False)
    return HubASGIHandler()
