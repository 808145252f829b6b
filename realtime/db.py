"""Database access from consumers and the socket middleware: reads on a thread
pool, writes on one shared thread, each call in a context of its own."""

import asyncio
import contextvars
import functools

from channels.db import database_sync_to_async
from django.db import close_old_connections


def _in_own_context(func, *, thread_sensitive: bool):
    """``database_sync_to_async(func)``, each call run in a copy of the caller's
    context that is then dropped.

    asgiref copies what the thread's code set in its context (Django's
    ``Local`` storage, the decimal module's context) back into the calling
    task's context, which a socket's task keeps for its lifetime: about 0.5 KiB
    per idle socket for the two calls of a connect (docs/PERFORMANCE.md). The
    hub's database calls hand back only their return value, so nothing needs
    copying back.
    """

    @functools.wraps(func)
    async def call(*args, **kwargs):
        run = database_sync_to_async(
            func,
            thread_sensitive=thread_sensitive,
            context=contextvars.copy_context(),
        )
        return await run(*args, **kwargs)

    return call


def database_read(func):
    """``func`` run on the event loop's thread pool, for reads that may run
    beside each other.

    channels' ``database_sync_to_async`` runs every call of every socket on
    one shared thread, one after another, so one slow read (a long resume)
    held up every other socket's connect. Reads that need no transaction
    across calls run on the default thread pool instead, each thread with its
    own persistent connection, closed first if stale or broken (as channels
    does around each call). They go straight to the pool, without asgiref's
    ``SyncToAsync`` (its thread-sensitivity bookkeeping, and a second
    ``close_old_connections()`` after the call): a read calls no async code
    back. What it buys a connect storm: docs/PERFORMANCE.md.
    """

    @functools.wraps(func)
    async def call(*args, **kwargs):
        # A context of its own, dropped after the call (see _in_own_context).
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            None, context.run, _read_in_thread, func, args, kwargs
        )

    return call


def _read_in_thread(func, args, kwargs):
    close_old_connections()
    return func(*args, **kwargs)


def database_write(func):
    """``database_sync_to_async`` on channels' shared thread, for writes.

    Writes stay one after another (SQLite has one writer; PostgreSQL row locks
    are taken in arrival order). A consumer awaits them through
    ``HubConsumer.db_call``, so one user's sockets have at most
    ``WS_DB_CALLS_PER_USER`` calls in the thread's queue (realtime.per_user).
    """
    return _in_own_context(func, thread_sensitive=True)
