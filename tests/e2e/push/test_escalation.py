"""Escalation end to end: real web, worker and Beat processes, a real push
service. A notification no open page reports seen is pushed PUSH_AFTER_SECS
after it was created, once, and only when the person's preferences allow it."""

import http.server
import threading
import time
from datetime import timedelta

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from delivery.models import PushDelivery, PushSubscription
from emails.services import preference_update
from notifications.models import Notification
from tests.e2e.push.conftest import PUSH_AFTER_SECS
from tests.support.sockets import Socket
from tests.support.stack import api, kill_group, start_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# The promise: pushed within PUSH_AFTER_SECS plus a second of creation.
# A little slack on top for a loaded two-core test machine.
LATE_SECS = 1.5
Status = PushDelivery.Status


def subscribe(hub, user, push_service, endpoint_base: str | None = None) -> dict:
    """A browser of ``user``: subscribed at the push service with the key the hub
    serves, registered with the hub's API."""
    key = api(hub.base_url, user, "GET", "/api/push/key/").json()["public_key"]
    subscription = push_service.subscribe(key)
    endpoint = subscription["endpoint"]
    if endpoint_base:
        endpoint = endpoint.replace(push_service.base_url, endpoint_base)
    response = api(
        hub.base_url,
        user,
        "POST",
        "/api/push/subscriptions/",
        {"endpoint": endpoint, "keys": subscription["keys"]},
    )
    assert response.status_code == 201, response.text
    return subscription


def notify(hub, staff, user, title: str) -> int:
    response = api(
        hub.base_url,
        staff,
        "POST",
        "/api/notifications/",
        {"recipients": [user.pk], "title": title, "url": "/notifications/"},
    )
    assert response.status_code == 201, response.text
    return Notification.objects.get(recipient=user, title=title).pk


def decided(notification_id: int, *statuses: str) -> PushDelivery:
    """The push row of a notification, once it reached one of ``statuses``."""
    return wait_for(
        lambda: PushDelivery.objects.filter(
            notification_id=notification_id, status__in=statuses
        ).first(),
        f"the push of {notification_id} to become {statuses}",
        timeout=PUSH_AFTER_SECS + 15,
    )


def test_no_socket__pushed_after_push_after_secs(push_hub, push_service, alice, staff):
    browser = subscribe(push_hub, alice, push_service)

    started = time.monotonic()
    n_id = notify(push_hub, staff, alice, "Build broke")
    [message] = wait_for(
        lambda: push_service.messages(browser["clientHash"]),
        "the push",
        timeout=PUSH_AFTER_SECS + 10,
    )
    elapsed = time.monotonic() - started

    assert message["id"] == n_id
    assert message["title"] == "Build broke"
    assert message["url"].endswith("/notifications/")
    assert PUSH_AFTER_SECS <= elapsed < PUSH_AFTER_SECS + LATE_SECS, elapsed
    assert decided(n_id, Status.SENT)


async def test_socket_reports_seen__not_pushed(push_hub, push_service, alice, staff):
    browser = await sync_to_async(subscribe)(push_hub, alice, push_service)
    sock = Socket(push_hub.ws_url, alice)
    await sock.open()

    n_id = await sync_to_async(notify)(push_hub, staff, alice, "Shown")
    frame = await sock.until_title("Shown")
    await sock.ws.send(f'{{"type": "seen", "ids": [{frame["notification"]["id"]}]}}')

    # A later notification, not seen, is the marker: the sweep claims in id
    # order, so once the marker is pushed the seen one was passed over.
    marker_id = await sync_to_async(notify)(push_hub, staff, alice, "Marker")
    messages = await sync_to_async(wait_for)(
        lambda: push_service.messages(browser["clientHash"]),
        "the marker's push",
        timeout=PUSH_AFTER_SECS + 10,
    )
    assert [m["id"] for m in messages] == [marker_id]
    assert not await PushDelivery.objects.filter(notification_id=n_id).aexists()
    await sock.close()


async def test_hidden_tab_without_seen__pushed(push_hub, push_service, alice, staff):
    browser = await sync_to_async(subscribe)(push_hub, alice, push_service)
    sock = Socket(push_hub.ws_url, alice)
    await sock.open()

    n_id = await sync_to_async(notify)(push_hub, staff, alice, "Background tab")
    await sock.until_title("Background tab")  # delivered, but never shown

    assert (await sync_to_async(decided)(n_id, Status.SENT, Status.SKIPPED)).status == (
        Status.SENT
    )
    [message] = await sync_to_async(push_service.messages)(browser["clientHash"])
    assert message["id"] == n_id
    await sock.close()


def test_push_off_in_preferences__not_pushed(push_hub, push_service, alice, staff):
    browser = subscribe(push_hub, alice, push_service)
    response = api(
        push_hub.base_url, alice, "PATCH", "/api/preferences/", {"push": False}
    )
    assert response.status_code == 200

    n_id = notify(push_hub, staff, alice, "Muted")

    row = decided(n_id, Status.SKIPPED, Status.SENT)
    assert row.reason == "push off in preferences"
    assert push_service.messages(browser["clientHash"]) == []


def test_quiet_hours__held_not_pushed(push_hub, push_service, alice, staff):
    browser = subscribe(push_hub, alice, push_service)
    now = timezone.now()
    preference_update(
        user_id=alice.pk,
        quiet_hours={
            "start": (now - timedelta(hours=1)).time().replace(microsecond=0),
            "end": (now + timedelta(hours=1)).time().replace(microsecond=0),
        },
    )

    n_id = notify(push_hub, staff, alice, "At night")

    wait_for(
        lambda: PushDelivery.objects.filter(
            notification_id=n_id, reason="quiet hours"
        ).exists(),
        "the push to be held",
        timeout=PUSH_AFTER_SECS + 15,
    )
    assert PushDelivery.objects.get(notification_id=n_id).status == Status.SCHEDULED
    assert push_service.messages(browser["clientHash"]) == []


def test_expired_subscription__deleted(push_hub, push_service, alice, staff):
    browser = subscribe(push_hub, alice, push_service)
    push_service.expire(browser["clientHash"])

    n_id = notify(push_hub, staff, alice, "To a dead browser")

    decided(n_id, Status.SKIPPED, Status.SENT, Status.FAILED)
    assert not PushSubscription.objects.filter(user=alice).exists()


class _StallFirst(http.server.BaseHTTPRequestHandler):
    """A push service front that holds the first push forever (the worker
    pushing it is killed meanwhile) and passes later ones to the real service."""

    arrived = threading.Event()
    release = threading.Event()
    target = ""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if not self.arrived.is_set():
            self.arrived.set()
            self.release.wait(60)
            return
        forwarded = httpx.post(
            self.target + self.path,
            content=body,
            headers={
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("host", "content-length", "connection")
            },
        )
        self.send_response(forwarded.status_code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def stalling_front(push_service):
    _StallFirst.target = push_service.base_url
    _StallFirst.arrived.clear()
    _StallFirst.release.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StallFirst)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _StallFirst.release.set()
    server.shutdown()


def test_worker_killed_mid_push__pushed_once(
    push_hub, push_service, stalling_front, alice, staff
):
    browser = subscribe(push_hub, alice, push_service, endpoint_base=stalling_front)
    n_id = notify(push_hub, staff, alice, "Mid-push")
    assert _StallFirst.arrived.wait(PUSH_AFTER_SECS + 10), "the push never started"

    kill_group(push_hub, "worker")  # SIGKILL in the middle of the push request
    start_worker(push_hub, "worker")

    row = decided(n_id, Status.SENT, Status.FAILED, Status.SKIPPED)
    assert row.status == Status.SENT
    assert row.attempts == 2  # taken again once, after PUSH_SEND_STALE_SECS
    # The redelivered task found it claimed by the dead worker and left it; the
    # sweep re-queued it after PUSH_SEND_STALE_SECS; a sent row is never queued.
    assert len(push_service.messages(browser["clientHash"])) == 1
