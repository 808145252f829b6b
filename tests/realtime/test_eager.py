"""start_eagerly: a coroutine's first step runs at once; the rest, if any, later."""

import asyncio

import pytest

from realtime.eager import start_eagerly


async def test_start_eagerly__a_coroutine_that_never_waits_is_done_at_once():
    ran = []

    async def quick():
        ran.append("all of it")

    assert start_eagerly(quick()) is None
    assert ran == ["all of it"]


async def test_start_eagerly__runs_up_to_the_first_wait_then_hands_on_the_rest():
    gate = asyncio.get_running_loop().create_future()
    steps = []

    async def slow():
        steps.append("before")
        value = await gate
        steps.append(value)
        return "result"

    rest = start_eagerly(slow())
    assert steps == ["before"]

    gate.set_result("after")
    assert await asyncio.wait_for(rest, timeout=3) == "result"
    assert steps == ["before", "after"]


async def test_start_eagerly__an_error_in_the_first_step_is_raised_here():
    async def failing():
        raise LookupError("first step")

    with pytest.raises(LookupError, match="first step"):
        start_eagerly(failing())


async def test_start_eagerly__an_error_after_a_wait_is_raised_by_the_rest():
    gate = asyncio.get_running_loop().create_future()

    async def failing_later():
        await gate
        raise LookupError("second step")

    rest = start_eagerly(failing_later())
    gate.set_result(None)
    with pytest.raises(LookupError, match="second step"):
        await asyncio.wait_for(rest, timeout=3)


async def test_start_eagerly__cancelling_the_awaiting_task_cancels_the_coroutine():
    gate = asyncio.get_running_loop().create_future()
    cleaned_up = []

    async def waits_forever():
        try:
            await gate
        finally:
            cleaned_up.append(True)

    rest = start_eagerly(waits_forever())
    waiter = asyncio.ensure_future(rest)
    await asyncio.sleep(0)  # let the waiter start awaiting
    waiter.cancel()

    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert cleaned_up == [True]
