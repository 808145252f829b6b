"""Seen reporting and the service worker in Debian's Chromium: a toast shown on
a visible page is reported `seen`; /sw.js shows a pushed notification (delivered
through the DevTools protocol, as a push service would) and a click on it marks
it read."""

import json
import time

import pytest
from playwright.sync_api import expect

from delivery import tokens
from notifications.models import Notification
from tests.e2e.browser.conftest import WAIT_MS, api_post, wait_for_row

pytestmark = pytest.mark.django_db(transaction=True)


def test_seen__a_toast_on_the_visible_page_is_reported_seen(
    web, signed_in, make_web_user
):
    alice = make_web_user("alice")
    staff = make_web_user("ops", is_staff=True)
    page = signed_in(alice)
    expect(page.locator("[data-hub-conn]")).to_have_attribute("data-state", "open")
    assert page.evaluate("document.visibilityState") == "visible"

    api_post(
        web.base_url,
        staff,
        "/api/notifications/",
        {"recipients": [alice.pk], "title": "Shown in a toast"},
    )
    expect(
        page.locator(".hub-toast").filter(has_text="Shown in a toast")
    ).to_be_visible()

    n = Notification.objects.get(title="Shown in a toast")
    wait_for_row(
        lambda: Notification.objects.filter(pk=n.pk, seen_at__isnull=False).exists(),
        "seen_at to be set",
    )
    assert Notification.objects.get(pk=n.pk).read_at is None  # seen is not read


def registration_id(cdp, page, base_url: str) -> str:
    """The DevTools id of the site's service worker registration."""
    found = {}

    def updated(event):
        for reg in event["registrations"]:
            if reg["scopeURL"] == base_url + "/" and not reg["isDeleted"]:
                found["id"] = reg["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    cdp.send("ServiceWorker.enable")
    page.evaluate(
        "navigator.serviceWorker.register('/sw.js')"
        ".then(() => navigator.serviceWorker.ready)"
    )
    deadline = time.monotonic() + WAIT_MS / 1000
    while "id" not in found and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets Playwright dispatch the CDP events
    assert "id" in found, "the service worker never registered"
    return found["id"]


SHOWN = """
navigator.serviceWorker.ready
  .then((r) => r.getNotifications())
  .then((ns) => ns.map((n) => ({
    title: n.title, body: n.body, tag: n.tag, data: n.data,
  })))
"""


def test_service_worker__shows_a_push_and_its_click_marks_read(
    web, signed_in, make_web_user, settings
):
    alice = make_web_user("alice")
    staff = make_web_user("ops", is_staff=True)
    api_post(
        web.base_url,
        staff,
        "/api/notifications/",
        {"recipients": [alice.pk], "title": "Deploy failed"},
    )
    n = Notification.objects.get(title="Deploy failed")
    page = signed_in(alice, permissions=["notifications"])
    cdp = page.context.new_cdp_session(page)
    reg = registration_id(cdp, page, web.base_url)
    # The token is signed as the web process (and its worker) would sign it.
    settings.SECRET_KEY = web.live_hub.env["DJANGO_SECRET_KEY"]
    pushed = {
        "id": n.pk,
        "title": "Deploy failed",
        "body": "Build 12 broke",
        "url": web.base_url + "/notifications/",
        "level": "error",
        "read_token": tokens.read_token(user_id=alice.pk, notification_id=n.pk),
    }

    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": web.base_url, "registrationId": reg, "data": json.dumps(pushed)},
    )

    page.wait_for_function(f"({SHOWN}).then((ns) => ns.length === 1)", timeout=WAIT_MS)
    [shown] = page.evaluate(SHOWN)
    assert shown["title"] == "Deploy failed"
    assert shown["body"] == "Build 12 broke"
    assert shown["tag"] == f"hub-{n.pk}"  # a repeated push replaces, not adds
    assert shown["data"]["url"] == web.base_url + "/notifications/"

    # A click: the worker's handler, run with the shown notification. (A
    # synthetic event: DevTools cannot click a system notification, so that
    # the click focuses or opens the link is not tested here.)
    [worker] = page.context.service_workers
    worker.evaluate(
        """async () => {
          const [n] = await self.registration.getNotifications({tag: "hub-NID"});
          const click = new NotificationEvent("notificationclick", {notification: n});
          self.dispatchEvent(click);
        }""".replace("NID", str(n.pk))
    )
    wait_for_row(
        lambda: Notification.objects.filter(pk=n.pk, read_at__isnull=False).exists(),
        "the click to mark it read",
    )
