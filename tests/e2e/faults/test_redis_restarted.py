"""Redis restarted, without persistence, under live traffic.

The whole hub of this test (web, worker, channel layer, cache, broker) uses a
private redis-server that the test kills and starts again on the same port; the
shared Redis is never touched. While it is down /healthz says 503; afterwards
the sockets that stayed open receive new notifications with no action of the
user (their group subscriptions are restored), and resuming recovers what was
stored while Redis was away: nothing lost, nothing twice.
"""

import time

import httpx
import pytest
from asgiref.sync import sync_to_async

from notifications.models import Notification
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
