"""Scale-out on one machine: two web processes, two Celery workers, one beat.

Sockets of one user on both web processes each get every notification once,
whichever process accepted it and whichever worker ran it; a scheduled
broadcast fires once with two workers competing. (Chat presence across two web
processes is tested in tests/e2e/test_chat.py.)
"""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from notifications.models import Broadcast, Notification, Subscription, Topic
from tests.support.audience import make_audience
from tests.support.sockets import Socket, assert_once_each
from tests.support.stack import api, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

AUDIENCE = 300
SCHEDULE_IN_SECS = 2
# Beat runs the dispatcher every 5 s; with start-up, the broadcast goes out
# well within this.
FIRED_WITHIN_SECS = 30.0


def ids_of(user) -> set[int]:
    return set(Notification.objects.filter(recipient=user).values_list("pk", flat=True))


async def test_two_webs__every_socket_of_a_user_gets_each_notification_once(
    cluster, alice, bob, staff
):
    topic = await sync_to_async(Topic.objects.create)(slug="ops", name="Ops")
    for u in (alice, bob):
        await sync_to_async(Subscription.objects.create)(user=u, topic=topic)
    sockets = [
        Socket(cluster.ws_urls[web], user)
        for web, user in (("a", alice), ("b", alice), ("b", alice), ("a", bob))
    ]
    for s in sockets:
        await s.open()

    for web in ("a", "b"):  # each web process accepts one
        response = await sync_to_async(api)(
            cluster.web_urls[web],
            staff,
            "POST",
            "/api/notifications/",
            {"recipients": [alice.pk, bob.pk], "title": f"via {web}"},
        )
        assert response.status_code == 201
    broadcast = await sync_to_async(api)(
        cluster.web_urls["b"],
        staff,
        "POST",
        "/api/broadcasts/",
        {"topic": "ops", "title": "broadcast"},
    )
    assert broadcast.status_code == 202
    await sync_to_async(wait_for)(
        lambda: Broadcast.objects.get(pk=broadcast.json()["id"]).status == "sent",
        "the broadcast to be sent",
    )
    marker = await sync_to_async(api)(
        cluster.web_urls["a"],
        staff,
        "POST",
        "/api/notifications/",
        {"recipients": [alice.pk, bob.pk], "title": "marker"},
    )
    assert marker.status_code == 201

    for s in sockets:
        await s.until_title("marker")
        expected = await sync_to_async(ids_of)(s.user)
        assert len(expected) == 4  # via a, via b, broadcast, marker
        assert_once_each(s, expected)  # all live, none twice
        assert not s.resumed
        await s.close()


def fan_outs_received(cluster) -> int:
    """Fan-out tasks the workers received, from both workers' logs."""
    return sum(
        "Task workers.fan_out_broadcast[" in line and line.endswith("received")
        for name in cluster.workers
        for line in (cluster.hub.log_dir / f"{name}.log").read_text().splitlines()
    )


async def test_scheduled_broadcast__fires_once_with_two_workers(cluster, staff):
    topic = await sync_to_async(Topic.objects.create)(slug="news", name="News")
    users = await sync_to_async(make_audience)(
        topic, size=AUDIENCE, connected=4, prefix="s"
    )
    sockets = [Socket(cluster.ws_urls["ab"[i % 2]], u) for i, u in enumerate(users[:4])]
    for s in sockets:
        await s.open()
    fan_outs_before = await sync_to_async(fan_outs_received)(cluster)
    await sync_to_async(cluster.hub.start)("beat")
    try:
        send_at = timezone.now() + timedelta(seconds=SCHEDULE_IN_SECS)
        response = await sync_to_async(api)(
            cluster.web_urls["a"],
            staff,
            "POST",
            "/api/broadcasts/",
            {"topic": "news", "title": "scheduled", "send_at": send_at.isoformat()},
        )
        assert response.status_code == 202
        assert response.json()["status"] == "scheduled"
        await sync_to_async(wait_for)(
            lambda: Broadcast.objects.get(pk=response.json()["id"]).status == "sent",
            "the scheduled broadcast to be sent",
            timeout=FIRED_WITHIN_SECS,
        )
    finally:
        await sync_to_async(cluster.hub.stop)("beat")

    rows = Notification.objects.filter(title="scheduled")
    assert await sync_to_async(rows.count)() == AUDIENCE
    assert await sync_to_async(rows.values("recipient").distinct().count)() == AUDIENCE
    fan_outs = await sync_to_async(fan_outs_received)(cluster) - fan_outs_before
    assert fan_outs == 1
    marker = await sync_to_async(api)(
        cluster.web_urls["b"],
        staff,
        "POST",
        "/api/notifications/",
        {"recipients": [u.pk for u in users[:4]], "title": "marker"},
    )
    assert marker.status_code == 201
    for s in sockets:
        await s.until_title("marker")
        assert sorted(s.titles.values()) == ["marker", "scheduled"]
        assert all(count == 1 for count in s.live.values())
        await s.close()
