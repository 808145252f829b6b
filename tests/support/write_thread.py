"""Hold the thread socket writes run on (``realtime.db.database_write``: channels'
shared thread), to prove what does or does not queue there."""

import asyncio
import contextlib
import threading

from realtime.db import database_write

HOLD_MAX_SECS = 30.0


@contextlib.asynccontextmanager
async def held_write_thread():
    """Until the block exits, the shared write thread runs nothing else: a write
    a socket queues meanwhile waits; a frame answered meanwhile wrote nothing."""
    running, done = threading.Event(), threading.Event()

    def hold() -> None:
        running.set()
        done.wait(HOLD_MAX_SECS)

    # A task of its own, so the test's context never holds asgiref's
    # "single thread in use" mark.
    holder = asyncio.create_task(database_write(hold)())
    assert await asyncio.to_thread(running.wait, HOLD_MAX_SECS)
    try:
        yield
    finally:
        done.set()
        await holder
