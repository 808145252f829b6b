"""Web Push in Debian's Chromium: a toast shown on a visible page is reported
`seen`; /sw.js shows a pushed notification (delivered through the DevTools
protocol, as a push service would), and a click on it focuses or opens its link
and marks it read; the bell's opt-in shows each state (not supported, blocked,
off, on) and asks for permission only when clicked."""

import json
import re
import time

import pytest
from playwright.sync_api import expect

from delivery import tokens, webpush
from delivery.models import PushSubscription
from notifications.models import Notification
from tests.delivery.push_service import PushService
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


# --- The opt-in in the bell ---------------------------------------------------------

# Before the page's scripts: what the opt-in asks of the browser is recorded
# (permission requests, PushManager.subscribe and the browser's answer).
RECORD_OPT_IN_JS = """
window.hubAsks = 0;
window.hubAnswers = [];
window.hubSubscribe = [];
const askPermission = Notification.requestPermission.bind(Notification);
Notification.requestPermission = () => {
  window.hubAsks += 1;
  return askPermission().then((answer) => {
    window.hubAnswers.push(answer);
    return answer;
  });
};
const subscribe = PushManager.prototype.subscribe;
PushManager.prototype.subscribe = function (options) {
  const record = { key: options.applicationServerKey, answer: null };
  window.hubSubscribe.push(record);
  return subscribe.call(this, options).then(
    (subscription) => { record.answer = "subscribed"; return subscription; },
    (error) => { record.answer = error.name; throw error; });
};
"""
# Debian's Chromium has no push service to subscribe with (subscribe() is
# refused). For the "on" state the page is handed, instead, a subscription
# made at web-push-testing, the real push service the other tests push to.
SUBSCRIPTION_FROM_THE_PUSH_SERVICE_JS = """
let current = null;
PushManager.prototype.getSubscription = async function () { return current; };
PushManager.prototype.subscribe = async function (options) {
  window.hubSubscribe.push({ key: options.applicationServerKey, answer: "given" });
  const json = window.hubPushServiceSubscription;
  current = {
    endpoint: json.endpoint,
    options: { applicationServerKey: null },
    toJSON: () => json,
    unsubscribe: async () => { current = null; return true; },
  };
  return current;
};
"""


@pytest.fixture(scope="module")
def push_web(browser_web, live_hub):
    """A web process with a VAPID key (browser_web has none: push is off there)."""
    name = "browser-push-web"
    base_url = live_hub.start_web(
        name,
        WEBPUSH_VAPID_PRIVATE_KEY=webpush.new_private_key_pem(),
        WEBPUSH_VAPID_SUBJECT="mailto:ops@example.com",
        WEBPUSH_ALLOW_HTTP_ENDPOINTS="true",
    )
    yield base_url
    live_hub.stop(name)


@pytest.fixture(scope="module")
def push_service(tmp_path_factory):
    service = PushService(tmp_path_factory.mktemp("push") / "push-service.log")
    service.start()
    yield service
    service.stop()


def opt_in_page(
    contexts, base_url: str, user, *scripts: str, notifications: str = "granted"
):
    """The notification center at ``base_url`` signed in as ``user``, with
    ``scripts`` run before the page's own and the notification permission set
    (granted, denied or prompt); returns it with the opt-in shown."""
    context = contexts()
    for script in (RECORD_OPT_IN_JS, *scripts):
        context.add_init_script(script)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send(
        "Browser.setPermission",
        {
            "permission": {"name": "notifications"},
            "setting": notifications,
            "origin": base_url,
            "browserContextId": cdp.send("Target.getTargetInfo")["targetInfo"][
                "browserContextId"
            ],
        },
    )
    page.goto(f"{base_url}/login/?next=/notifications/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("pw-" + user.username)
    page.get_by_role("button", name="Log in").click()
    expect(opt_in(page)).to_have_attribute("data-state", re.compile("."))
    page.locator("[data-hub-bell-button]").click()
    return page


def opt_in(page):
    return page.locator("[data-hub-push]")


def test_opt_in__not_supported_without_the_push_api_or_a_hub_key(
    web, push_web, contexts, make_web_user
):
    alice = make_web_user("alice")
    without_push_api = "delete window.PushManager;"  # as in browsers before it
    # As in Firefox's private windows: the API is there, registering fails.
    refused_worker = """ServiceWorkerContainer.prototype.register = () =>
      Promise.reject(new DOMException("not here", "SecurityError"));"""
    for page in (
        opt_in_page(contexts, push_web, alice, without_push_api),
        opt_in_page(contexts, push_web, alice, refused_worker),
        # browser_web has no VAPID key: /api/push/key/ answers 404.
        opt_in_page(contexts, web.base_url, alice),
    ):
        expect(opt_in(page)).to_have_attribute("data-state", "unsupported")
        expect(opt_in(page)).to_have_text("Push notifications: not supported here")
        expect(opt_in(page)).to_be_disabled()
        assert page.evaluate("window.hubAsks") == 0


def test_opt_in__blocked_when_the_browser_denies_notifications(
    push_web, contexts, make_web_user
):
    page = opt_in_page(
        contexts, push_web, make_web_user("alice"), notifications="denied"
    )

    assert page.evaluate("Notification.permission") == "denied"
    expect(opt_in(page)).to_have_attribute("data-state", "blocked")
    expect(opt_in(page)).to_have_text("Push notifications: blocked by the browser")
    expect(opt_in(page)).to_be_disabled()
    assert page.evaluate("window.hubAsks") == 0


def test_opt_in__asks_on_click_only_and_shows_the_answer(
    push_web, contexts, make_web_user
):
    page = opt_in_page(
        contexts, push_web, make_web_user("alice"), notifications="prompt"
    )
    expect(opt_in(page)).to_have_attribute("data-state", "off")
    assert page.evaluate("window.hubAsks") == 0  # not asked on load

    opt_in(page).click()

    # Headless Chromium answers the request itself, with no one to ask: it
    # refuses ("denied") or dismisses ("default"), never grants.
    page.wait_for_function("window.hubAnswers.length === 1")
    [answer] = page.evaluate("window.hubAnswers")
    state = {"denied": "blocked", "default": "off"}[answer]
    expect(opt_in(page)).to_have_attribute("data-state", state)
    assert page.evaluate("window.hubAsks") == 1
    assert page.evaluate("window.hubSubscribe") == []  # nothing to subscribe


def test_opt_in__off_asks_only_on_click_then_subscribes_with_the_hubs_key(
    push_web, contexts, make_web_user
):
    alice = make_web_user("alice")
    page = opt_in_page(contexts, push_web, alice)
    expect(opt_in(page)).to_have_attribute("data-state", "off")
    expect(opt_in(page)).to_have_text("Turn on push notifications")
    assert page.evaluate("window.hubAsks") == 0  # not asked on load

    opt_in(page).click()

    page.wait_for_function("window.hubSubscribe.some((s) => s.answer)")
    [asked] = page.evaluate("window.hubSubscribe")
    assert page.evaluate("window.hubAsks") == 1
    assert asked["key"] == page.evaluate("hub.api('push/key/')")["public_key"]
    if asked["answer"] == "subscribed":  # a Chromium with a push service
        expect(opt_in(page)).to_have_attribute("data-state", "on")
        wait_for_row(
            lambda: PushSubscription.objects.filter(user=alice).exists(),
            "the subscription to be saved",
        )
    else:  # Debian's: "Registration failed" (docs/PUSH.md)
        assert asked["answer"] == "AbortError"
        expect(opt_in(page)).to_have_attribute("data-state", "off")
        assert not PushSubscription.objects.exists()


def test_opt_in__on_with_a_push_service_subscription_then_off(
    push_web, push_service, contexts, make_web_user
):
    alice = make_web_user("alice")
    page = opt_in_page(
        contexts,
        push_web,
        alice,
        SUBSCRIPTION_FROM_THE_PUSH_SERVICE_JS,
    )
    key = page.evaluate("hub.api('push/key/')")["public_key"]
    subscription = push_service.subscribe(key)
    subscription.pop("clientHash")
    page.evaluate("(s) => { window.hubPushServiceSubscription = s; }", subscription)
    expect(opt_in(page)).to_have_attribute("data-state", "off")

    opt_in(page).click()

    expect(opt_in(page)).to_have_attribute("data-state", "on")
    expect(opt_in(page)).to_have_text("Push notifications: on")
    assert page.evaluate("window.hubAsks") == 1
    [saved] = PushSubscription.objects.filter(user=alice)
    assert saved.endpoint == subscription["endpoint"]

    opt_in(page).click()  # on -> off: forgotten by the hub and the browser

    expect(opt_in(page)).to_have_attribute("data-state", "off")
    assert not PushSubscription.objects.exists()
    assert page.evaluate("window.hubAsks") == 1  # turning off asks nothing
