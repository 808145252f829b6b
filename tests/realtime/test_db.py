"""Database calls from sockets: what runs in the thread stays in the thread."""

import contextvars

import pytest

from realtime.db import database_read, database_write

# channels closes stale connections around each call, on whichever thread.
pytestmark = pytest.mark.django_db(transaction=True)

_SET_IN_THREAD = contextvars.ContextVar("set_in_thread")


def _set_in_thread(value: str) -> str:
    _SET_IN_THREAD.set(value)
    return value


_read = database_read(_set_in_thread)
_write = database_write(_set_in_thread)


@pytest.mark.parametrize("call", [_read, _write], ids=["read", "write"])
async def test_call__returns_its_value_and_leaves_the_callers_context_alone(call):
    # A socket's task keeps its context for its lifetime: asgiref would copy
    # what the thread set (Django's Local storage, the decimal context) into it.
    assert await call("thread") == "thread"

    assert _SET_IN_THREAD.get("unset") == "unset"


async def test_call__sees_the_callers_context():
    _SET_IN_THREAD.set("caller")

    seen = await database_read(_SET_IN_THREAD.get)()

    assert seen == "caller"
