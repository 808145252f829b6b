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


# Installed in the worker before a click: records what the click handler asks
# of the browser (focus a tab, open a window) and what the browser answers.
RECORD_CLICK_JS = """() => {
  self.hubCalls = [];
  const record = (what, promise) => promise.then(
    (client) => {
      self.hubCalls.push([what, "done", client ? client.url : null]);
      return client;
    },
    (error) => {
      self.hubCalls.push([what, "refused", error.name]);
      throw error;
    });
  const focus = WindowClient.prototype.focus;
  WindowClient.prototype.focus = function () {
    self.hubCalls.push(["focus", "asked", this.url]);
    return record("focus", focus.call(this));
  };
  const openWindow = Clients.prototype.openWindow;
  Clients.prototype.openWindow = function (url) {
    self.hubCalls.push(["openWindow", "asked", url]);
    return record("openWindow", openWindow.call(this, url));
  };
}"""
# A click on the shown notification tagged ``tag``: the worker's handler, run
# with it. DevTools cannot click a system notification, so the event is
# dispatched by script, without the user activation a real click brings.
CLICK_JS = """async (tag) => {
  const [n] = await self.registration.getNotifications({tag});
  self.dispatchEvent(new NotificationEvent("notificationclick", {notification: n}));
}"""


def worker_calls(worker, count: int) -> list:
    """The worker's recorded calls, once there are ``count`` of them."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        calls = worker.evaluate("self.hubCalls")
        if len(calls) >= count:
            return calls
        time.sleep(0.05)  # polling the worker's record, not a race fix
    raise TimeoutError(f"the worker made {calls}, not {count} calls")


# What Chromium answers a worker that focuses or opens a window from a
# script-dispatched click: without a user's click there is no user activation.
REFUSED = "InvalidAccessError"


@pytest.fixture
def pushed_to(web, signed_in, make_web_user, settings):
    """Alice's signed-in page (``.alice``; ``.staff`` may notify her) with the
    site's worker registered, notifications allowed, and
    ``.push(notification, path)`` delivering the hub's payload for it
    through DevTools, as a push service would; returns its tag once shown."""
    alice = make_web_user("alice")
    staff = make_web_user("ops", is_staff=True)
    page = signed_in(alice, permissions=["notifications"])
    cdp = page.context.new_cdp_session(page)
    reg = registration_id(cdp, page, web.base_url)
    # The token is signed as the web process (and its worker) would sign it.
    settings.SECRET_KEY = web.live_hub.env["DJANGO_SECRET_KEY"]

    def push(n: Notification, path: str, **fields) -> str:
        payload = {
            "id": n.pk,
            "title": n.title,
            "body": n.body,
            "url": web.base_url + path,
            "level": n.level,
            "read_token": tokens.read_token(user_id=alice.pk, notification_id=n.pk),
            **fields,
        }
        message = {"origin": web.base_url, "registrationId": reg}
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {**message, "data": json.dumps(payload)},
        )
        tag = n_tag(n)
        page.wait_for_function(
            f"({SHOWN}).then((ns) => ns.some((n) => n.tag === {json.dumps(tag)}))",
            timeout=WAIT_MS,
        )
        return tag

    page.alice, page.staff, page.push = alice, staff, push
    return page


def n_tag(n: Notification) -> str:
    return f"hub-{n.pk}"


def notify_alice(web, page, title: str, **fields) -> Notification:
    api_post(
        web.base_url,
        page.staff,
        "/api/notifications/",
        {"recipients": [page.alice.pk], "title": title, **fields},
    )
    return Notification.objects.get(title=title)


def test_service_worker__shows_a_push_once_per_notification(web, pushed_to):
    n = notify_alice(web, pushed_to, "Deploy failed", body="Build 12 broke")
    after = notify_alice(web, pushed_to, "Deploy fixed")

    pushed_to.push(n, "/notifications/")
    pushed_to.push(n, "/notifications/")  # a repeat (a retry after a crash)
    pushed_to.push(after, "/notifications/")  # shown once the repeat was handled

    shown = {s["tag"]: s for s in pushed_to.evaluate(SHOWN)}
    assert len(pushed_to.evaluate(SHOWN)) == 2  # the repeat replaced the first
    first = shown[n_tag(n)]
    assert first["title"] == "Deploy failed"
    assert first["body"] == "Build 12 broke"
    assert first["data"]["url"] == web.base_url + "/notifications/"


def test_service_worker__click_focuses_the_tab_on_its_link_and_marks_read(
    web, pushed_to
):
    n = notify_alice(web, pushed_to, "Deploy failed")
    tag = pushed_to.push(n, "/notifications/")  # the page alice has open
    [worker] = pushed_to.context.service_workers
    worker.evaluate(RECORD_CLICK_JS)

    worker.evaluate(CLICK_JS, tag)

    asked, answer = worker_calls(worker, 2)
    assert asked == ["focus", "asked", web.base_url + "/notifications/"]
    assert answer in (
        ["focus", "done", web.base_url + "/notifications/"],
        ["focus", "refused", REFUSED],  # no user activation: docs/PUSH.md
    )
    wait_for_row(
        lambda: Notification.objects.filter(pk=n.pk, read_at__isnull=False).exists(),
        "the click to mark it read",
    )
    assert pushed_to.evaluate(SHOWN) == []  # the click closed it


def test_service_worker__click_opens_its_link_when_no_tab_shows_it(web, pushed_to):
    n = notify_alice(web, pushed_to, "New topic")
    tag = pushed_to.push(n, "/topics/")  # alice's page is on /notifications/
    [worker] = pushed_to.context.service_workers
    worker.evaluate(RECORD_CLICK_JS)

    worker.evaluate(CLICK_JS, tag)

    asked, answer = worker_calls(worker, 2)
    assert asked == ["openWindow", "asked", web.base_url + "/topics/"]
    if answer[1] == "done":
        assert answer == ["openWindow", "done", web.base_url + "/topics/"]
        assert web.base_url + "/topics/" in [p.url for p in pushed_to.context.pages]
    else:
        assert answer == ["openWindow", "refused", REFUSED]  # docs/PUSH.md
    wait_for_row(
        lambda: Notification.objects.filter(pk=n.pk, read_at__isnull=False).exists(),
        "the click to mark it read",
    )
