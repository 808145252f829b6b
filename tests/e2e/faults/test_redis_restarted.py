"""Redis restarted, without persistence, under live traffic.

The whole hub of this test (web, worker, channel layer, cache, broker) uses a
private redis-server that the test kills and starts again on the same port; the
shared Redis is never touched. While it is down /healthz says 503; afterwards
the sockets that stayed open receive new notifications with no action of the
user (their group subscriptions are restored), and resuming recovers what was
stored while Redis was away: nothing lost, nothing twice. The sockets of the
outage tests never resume at all: the server sends them what they missed once
Redis is back (short and long outages), and the first publish each process
makes after a restart goes out, however long after it comes.
"""

import asyncio
import time

import httpx
import pytest
from asgiref.sync import sync_to_async
from websockets.exceptions import ConnectionClosed

from hub.celery import app as celery_app
from notifications.models import Notification
from realtime.consumers import CLOSE_TRY_AGAIN_LATER
from tests.support.sockets import Socket, assert_once_each
from tests.support.stack import api, health, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

RESUBSCRIBED_WITHIN_SECS = 10.0
PROBE_EVERY_SECS = 0.5


def notify(hub, staff, users, title: str) -> httpx.Response:
    return api(
        hub.base_url,
        staff,
        "POST",
        "/api/notifications/",
        {"recipients": [u.pk for u in users], "title": title},
    )


def ids_of(user) -> set[int]:
    return set(Notification.objects.filter(recipient=user).values_list("pk", flat=True))


async def test_redis_restarted__sockets_hear_again_and_resume_loses_nothing(
    hub_factory, private_redis, alice, bob, staff
):
    hub = hub_factory(REDIS_URL=private_redis.url, CELERY_BROKER_URL=private_redis.url)
    sockets = [Socket(hub.ws_url, u) for u in (alice, alice, bob)]
    for s in sockets:
        await s.open()
    users = [alice, bob]
    assert (await sync_to_async(notify)(hub, staff, users, "before")).status_code == 201
    for s in sockets:
        await s.until_title("before")
    checkpoints = [s.last_id for s in sockets]

    private_redis.kill()
    await sync_to_async(wait_for)(
        lambda: health(hub.base_url) == 503, "/healthz to report 503"
    )
    report = (await sync_to_async(httpx.get)(hub.base_url + "/healthz")).json()
    assert report["redis"] == "down"
    during = await sync_to_async(notify)(hub, staff, users, "during")
    assert during.status_code == 201, during.text  # stored; the push is what fails

    private_redis.start()
    await sync_to_async(wait_for)(
        lambda: health(hub.base_url) == 200, "/healthz to recover"
    )
    # A push published before a web process has subscribed again is lost for
    # its sockets (resume finds it), so probe until one gets through.
    restarted_at = time.perf_counter()
    for probe in range(int(RESUBSCRIBED_WITHIN_SECS / PROBE_EVERY_SECS)):
        await sync_to_async(notify)(hub, staff, users, f"probe {probe}")
        try:
            await sockets[0].until_title(f"probe {probe}", timeout=PROBE_EVERY_SECS)
            break
        except TimeoutError:
            continue
    else:
        raise AssertionError(f"no push within {RESUBSCRIBED_WITHIN_SECS} s")
    print(f"pushes reach sockets {time.perf_counter() - restarted_at:.2f} s after")
    # No reconnect, no resume: every open socket hears the next notification.
    assert (await sync_to_async(notify)(hub, staff, users, "after")).status_code == 201
    for s in sockets:
        await s.until_title("after")

    for s, checkpoint in zip(sockets, checkpoints, strict=True):
        await s.resume(checkpoint)  # from the last id seen before the outage
        expected = await sync_to_async(ids_of)(s.user)
        assert {"before", "during", "after"} <= {s.titles[i] for i in expected}
        assert_once_each(s, expected)
        await s.close()


SHORT_OUTAGE_SECS = 1.0  # a Sentinel failover
LONG_OUTAGE_SECS = 5.0
LONG_AFTER_SECS = 3.0  # the measured case: 3 s after the restart


async def open_sockets(hub, users) -> list[Socket]:
    sockets = [Socket(hub.ws_url, u) for u in users]
    for s in sockets:
        await s.open()
    return sockets


async def until_caught_up(sock: Socket, titles: set[str]) -> None:
    """Read frames (no frame sent by the client) until every title has come."""
    while not titles <= set(sock.titles.values()):
        frame = await sock.frame()
        if frame["type"] == "notification":
            sock._record(frame, sock.live)


def notify_by_worker(hub, broker_url: str, users, title: str) -> None:
    """Queue workers.notify_users on the hub's own (private) broker."""
    with celery_app.connection_for_write(broker_url) as connection:
        celery_app.send_task(
            "workers.notify_users",
            kwargs={
                "recipient_ids": [u.pk for u in users],
                "title": title,
                "idempotency_key": f"faults:{title}",
            },
            queue=hub.env.get("CELERY_QUEUE", "celery"),
            connection=connection,
        )


async def test_redis_short_outage__open_sockets_get_what_was_sent_meanwhile(
    hub_factory, private_redis, alice, bob, staff
):
    hub = hub_factory(REDIS_URL=private_redis.url, CELERY_BROKER_URL=private_redis.url)
    users = [alice, bob]
    sockets = await open_sockets(hub, [alice, alice, bob])

    private_redis.kill()
    down_at = time.monotonic()
    during = await sync_to_async(notify)(hub, staff, users, "during")
    assert during.status_code == 201, during.text
    assert time.monotonic() - down_at < SHORT_OUTAGE_SECS
    private_redis.start()

    # No reconnect, no resume: the server sends what the socket missed.
    for s in sockets:
        await until_caught_up(s, {"during"})
    assert (await sync_to_async(notify)(hub, staff, users, "after")).status_code == 201
    for s in sockets:
        await s.until_title("after")
        assert_once_each(s, await sync_to_async(ids_of)(s.user))
        await s.close()


async def test_redis_long_outage__open_sockets_get_what_was_sent_meanwhile(
    hub_factory, private_redis, alice, bob, staff
):
    hub = hub_factory(REDIS_URL=private_redis.url, CELERY_BROKER_URL=private_redis.url)
    users = [alice, bob]
    sockets = await open_sockets(hub, [alice, alice, bob])

    private_redis.kill()
    await sync_to_async(wait_for)(
        lambda: health(hub.base_url) == 503, "/healthz to report 503"
    )
    titles = {f"during {i}" for i in range(3)}
    for title in sorted(titles):
        assert (
            await sync_to_async(notify)(hub, staff, users, title)
        ).status_code == 201
    await asyncio.sleep(LONG_OUTAGE_SECS)  # the outage itself, not a wait for a state
    private_redis.start()

    for s in sockets:
        await until_caught_up(s, titles)
    assert (await sync_to_async(notify)(hub, staff, users, "after")).status_code == 201
    for s in sockets:
        await s.until_title("after")
        assert_once_each(s, await sync_to_async(ids_of)(s.user))
        await s.close()


async def test_redis_restarted__a_notification_long_after_reaches_open_sockets(
    hub_factory, private_redis, alice, bob, staff
):
    """Nothing touches the web or worker process's publishing connection
    between the restart and the notification (no /healthz either): the first
    publish each makes afterwards must still go out."""
    hub = hub_factory(REDIS_URL=private_redis.url, CELERY_BROKER_URL=private_redis.url)
    users = [alice, bob]
    sockets = await open_sockets(hub, [alice, alice, bob])
    assert (await sync_to_async(notify)(hub, staff, users, "before")).status_code == 201
    for s in sockets:
        await s.until_title("before")

    private_redis.kill()
    private_redis.start()
    for s in sockets:  # subscribed again: the catch-up ends with the unread count
        while (await s.frame())["type"] != "unread":
            pass
    await asyncio.sleep(LONG_AFTER_SECS)  # "long after": part of the scenario

    # Through the web process (the API) and the worker (a task), each making
    # its first publish since the restart.
    assert (await sync_to_async(notify)(hub, staff, users, "by web")).status_code == 201
    for s in sockets:
        await s.until_title("by web")
    await sync_to_async(notify_by_worker)(hub, private_redis.url, users, "by worker")
    for s in sockets:
        await s.until_title("by worker")
        assert_once_each(s, await sync_to_async(ids_of)(s.user))
        await s.close()


async def test_redis_down__a_handshake_is_closed_1013_and_one_after_the_restart_works(
    hub_factory, private_redis, alice, staff
):
    """The channel layer cannot subscribe a new socket while Redis is down: the
    handshake ends with close code 1013 (try again later, which the hub's
    clients retry with backoff), not an HTTP 500 they cannot tell from a bug."""
    hub = hub_factory(REDIS_URL=private_redis.url, CELERY_BROKER_URL=private_redis.url)

    private_redis.kill()
    refused = Socket(hub.ws_url, alice)
    with pytest.raises(ConnectionClosed) as closed:
        await refused.open()
    assert closed.value.rcvd is not None, closed.value  # a close frame, not a 500
    assert closed.value.rcvd.code == CLOSE_TRY_AGAIN_LATER

    private_redis.start()
    sock = Socket(hub.ws_url, alice)  # right after, no wait for /healthz
    await sock.open()
    assert (
        await sync_to_async(notify)(hub, staff, [alice], "after")
    ).status_code == 201
    await sock.until_title("after")
    assert_once_each(sock, await sync_to_async(ids_of)(alice))
    await sock.close()
