"""Database access from consumers and the socket middleware."""

from channels.db import database_sync_to_async


def database_read(func):
    """``database_sync_to_async`` for reads that may run beside each other.

    channels' default runs every call of every socket on one shared thread,
    one after another, so one slow read (a long resume) held up every other
    socket's connect. Reads that need no transaction across calls run on the
    default thread pool instead, each thread with its own persistent
    connection (channels closes stale ones around each call); writes stay on
    the shared thread. What it buys a connect storm: docs/PERFORMANCE.md.
    """
    return database_sync_to_async(func, thread_sensitive=False)
