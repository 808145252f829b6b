"""Start a coroutine at once, in the caller's task, and hand on what is left.

Python 3.12's eager tasks (``asyncio.Task(coro, eager_start=True)``) do this:
the coroutine runs synchronously until it first waits, and only then becomes a
scheduled task. The channel layer's reader uses it to send a group message to
an idle socket without waking that socket's task (realtime.consumers,
``HubConsumer.handle_now``); a send that has to wait (a client that reads
slowly) goes on in a task of its own.

Python 3.11 has no eager tasks; :class:`_Rest` is the part of them the hub
needs, and goes when 3.11 does: it runs the coroutine's first step here and,
if the coroutine waits, is awaited by another task, to which it passes on what
the coroutine waits on and sends or throws back what that task is given, as
``yield from`` does.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Coroutine
from typing import Any

EAGER_TASKS = sys.version_info >= (3, 12)


def start_eagerly(coro: Coroutine) -> Awaitable | None:
    """Run ``coro`` until it first waits. None if it finished (its exception,
    if any, is raised here); else an awaitable of the rest, for a task to await."""
    if EAGER_TASKS:
        task = asyncio.Task(coro, eager_start=True)
        if task.done():
            task.result()  # raises what the coroutine raised
            return None
        return task
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    return _Rest(coro, waiting_on)


class _Rest:
    """A started coroutine, for another task to await to its end (3.11)."""

    __slots__ = ("_coro", "_waiting_on")

    def __init__(self, coro: Coroutine, waiting_on: Any) -> None:
        self._coro = coro
        self._waiting_on = waiting_on

    def __await__(self):
        coro, waiting_on = self._coro, self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 (a cancel, thrown in)
                try:
                    waiting_on = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    waiting_on = coro.send(sent)
                except StopIteration as stop:
                    return stop.value
