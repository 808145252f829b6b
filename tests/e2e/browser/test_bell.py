"""The bell in a real browser: live badge and toasts, read state across tabs,
and no notification lost or doubled across a web-process restart."""

import re
import time

import pytest
from playwright.sync_api import expect

from emails.models import Preference
from notifications.models import Notification
from tests.e2e.browser.conftest import (
    WAIT_MS,
    WEB,
    api_post,
    screenshot,
    wait_for_row,
)
from tests.security.test_links import ACCEPTED, REFUSED

pytestmark = pytest.mark.django_db(transaction=True)


def badge(page):
    return page.locator("[data-hub-badge-count]")


def conn(page):
    return page.locator("[data-hub-conn]")


def bell_item(page, title: str):
    return page.locator("[data-hub-bell-list] li").filter(has_text=title)


def notify(base_url: str, staff, recipient, title: str, **fields) -> None:
    api_post(
        base_url,
        staff,
        "/api/notifications/",
        {"recipients": [recipient.pk], "title": title, **fields},
    )


def test_bell__live_badge_toast_and_read_in_another_tab(web, contexts, make_web_user):
    alice = make_web_user("alice")
    staff = make_web_user("ops", is_staff=True)
    notify(web.base_url, staff, alice, "Welcome to the hub")
    notify(
        web.base_url, staff, alice, "Invoice ready", body="November", category="billing"
    )
    context = contexts()
    first = context.new_page()

    # The real login form, then the notification center with the count.
    first.goto(web.base_url + "/")
    expect(first).to_have_url(re.compile(r"/login/\?next=/$"))
    first.get_by_label("Username").fill("alice")
    first.get_by_label("Password").fill("pw-alice")
    first.get_by_role("button", name="Log in").click()
    expect(first).to_have_url(web.base_url + "/notifications/")
    expect(badge(first)).to_have_text("2")
    second = context.new_page()
    second.goto(web.base_url + "/notifications/")
    for page in (first, second):
        expect(conn(page)).to_have_attribute("data-state", "open")

    notify(
        web.base_url,
        staff,
        alice,
        "Deploy finished",
        body="web 2.4.1 is live",
        level="success",
        url="/topics/",
    )

    expect(badge(first)).to_have_text("3")
    expect(badge(second)).to_have_text("3")
    expect(
        first.locator(".hub-toast").filter(has_text="Deploy finished")
    ).to_be_visible()

    # Keyboard: the bell is a button; Escape closes the dropdown, focus returns.
    second.locator("[data-hub-bell-button]").focus()
    second.keyboard.press("Enter")
    expect(second.locator("[data-hub-bell-panel]")).to_be_visible()
    second.keyboard.press("Escape")
    expect(second.locator("[data-hub-bell-panel]")).to_be_hidden()
    expect(second.locator("[data-hub-bell-button]")).to_be_focused()

    first.locator(".hub-toast").first.locator(".hub-toast__close").click()
    first.locator("[data-hub-bell-button]").click()
    item = bell_item(first, "Deploy finished")
    expect(item).to_be_visible()
    expect(bell_item(first, "Invoice ready")).to_be_visible()
    screenshot(first, "bell")

    item.locator(".hub-bell__link").click()

    expect(first).to_have_url(web.base_url + "/topics/")
    expect(badge(second)).to_have_text("2")
    expect(bell_item(second, "Deploy finished")).not_to_have_class(
        re.compile("hub-bell__item--unread")
    )
    assert Notification.objects.get(title="Deploy finished").read_at is not None


def test_bell__web_restart_loses_nothing_and_doubles_nothing(
    web, live_hub, signed_in, make_web_user
):
    alice = make_web_user("alice")
    staff = make_web_user("ops", is_staff=True)
    page = signed_in(alice)
    expect(conn(page)).to_have_attribute("data-state", "open")
    notify(web.base_url, staff, alice, "before the restart")
    expect(bell_item(page, "before the restart")).to_have_count(1)

    web.kill()
    expect(conn(page)).to_have_attribute("data-state", "reconnecting")
    expect(conn(page)).to_have_text("Reconnecting…")
    # While this web is down, the session hub's web takes the API calls.
    for i in range(3):
        notify(live_hub.base_url, staff, alice, f"while down {i}")
    web.start()
    notify(web.base_url, staff, alice, "after the restart")

    expect(conn(page)).to_have_attribute("data-state", "open")
    titles = ["before the restart", *(f"while down {i}" for i in range(3))]
    titles.append("after the restart")
    for title in titles:
        expect(bell_item(page, title)).to_have_count(1)
    expect(badge(page)).to_have_text("5")
    expect(page.locator("[data-hub-bell-list] li")).to_have_count(5)

    page.reload()  # the notification center, server-rendered, for the docs
    expect(page.locator(".hub-list .hub-item")).to_have_count(5)
    screenshot(page, "notifications")


def test_bell__signed_out_elsewhere_says_so_and_stops(web, signed_in, make_web_user):
    alice = make_web_user("alice")
    page = signed_in(alice)
    expect(conn(page)).to_have_attribute("data-state", "open")

    # The session is gone when the socket next connects: 4401, no retrying.
    page.context.clear_cookies()
    web.kill()
    web.start()

    expect(conn(page)).to_have_attribute("data-state", "closed")
    expect(conn(page)).to_have_text("Signed out: log in again")


# Before the page's scripts: desktop alerts are recorded, and the page's
# visibility is the test's to set (a headless tab is always visible).
RECORD_ALERTS_JS = """
window.hubAlerts = [];
window.hubVisibility = "visible";
Object.defineProperty(document, "visibilityState", {
  configurable: true, get: () => window.hubVisibility,
});
const SystemNotification = window.Notification;
window.Notification = class extends SystemNotification {
  constructor(title, options) {
    window.hubAlerts.push(title);
    super(title, options);
  }
};
"""


def test_bell__in_app_off_listed_and_counted_without_toast_alert_or_seen(
    web, contexts, make_web_user
):
    alice = make_web_user("alice")
    staff = make_web_user("ops", is_staff=True)
    Preference.objects.create(
        user=alice, category_channels={"billing": {"in_app": False}}
    )
    context = contexts(permissions=["notifications"])
    context.add_init_script(RECORD_ALERTS_JS)
    page = context.new_page()
    page.goto(f"{web.base_url}/login/?next=/notifications/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw-alice")
    page.get_by_role("button", name="Log in").click()
    expect(conn(page)).to_have_attribute("data-state", "open")

    # The page is visible: a toast for "ci", none for "billing".
    notify(web.base_url, staff, alice, "Invoice paid", category="billing")
    notify(web.base_url, staff, alice, "Build green", category="ci")

    expect(page.locator(".hub-toast").filter(has_text="Build green")).to_be_visible()
    # Frames are handled in order: the quiet one came first and made no toast.
    # (Counted now: an expect would wait for any toast to time out.)
    assert page.locator(".hub-toast").filter(has_text="Invoice paid").count() == 0
    expect(bell_item(page, "Invoice paid")).to_have_count(1)
    expect(badge(page)).to_have_text("2")
    loud = Notification.objects.get(title="Build green")
    wait_for_row(
        lambda: Notification.objects.filter(pk=loud.pk, seen_at__isnull=False).exists(),
        "the toast to be reported seen",
    )
    # Reported in the same batch as the toast after it, or earlier, if at all.
    assert Notification.objects.get(title="Invoice paid").seen_at is None

    # The page is hidden: a desktop alert for "ci", none for "billing".
    page.evaluate("window.hubVisibility = 'hidden'")
    notify(web.base_url, staff, alice, "Invoice due", category="billing")
    notify(web.base_url, staff, alice, "Build red", category="ci")

    page.wait_for_function("window.hubAlerts.includes('Build red')")
    assert page.evaluate("window.hubAlerts") == ["Build red"]
    expect(badge(page)).to_have_text("4")


# Every element of a bell with its tag and attributes (values but for state).
# State the script sets at run time (shown, open, the push opt-in's state) is
# left out: the outline compares structure.
BELL_OUTLINE_JS = """(root) => [root, ...root.querySelectorAll("*")].map((node) =>
  [node.tagName.toLowerCase(), ...[...node.attributes]
    .filter((a) => !["hidden", "aria-expanded", "data-state", "disabled"]
      .includes(a.name))
    .map((a) => a.name + "=" + a.value).sort()].join(" "))"""


def test_bell__drawn_by_script_matches_the_template(web, signed_in, make_web_user):
    """<hub-bell> draws the bell with bell.js's renderBell(); the hub's pages
    get it from hub/_bell.html. One bell: the same elements and attributes."""
    page = signed_in(make_web_user("alice"))
    expect(conn(page)).to_have_attribute("data-state", "open")

    page.evaluate(f"() => {{ window.bellOutline = {BELL_OUTLINE_JS}; }}")
    drawn = page.evaluate(
        """async () => {
          const { renderBell } = await import("/static/hub/bell.js");
          const root = document.createElement("div");
          return bellOutline(renderBell(root, { seeAllUrl: "/notifications/" }));
        }"""
    )
    served = page.evaluate("bellOutline(document.querySelector('[data-hub-bell]'))")

    assert len(served) > 15, served  # the button, badge, panel, list...
    assert drawn == served


def test_pages__usable_at_phone_width(web, signed_in, make_web_user):
    alice = make_web_user("alice")
    staff = make_web_user("ops", is_staff=True)
    notify(web.base_url, staff, alice, "A long title " * 8, body="and a body " * 20)
    page = signed_in(alice, viewport={"width": 375, "height": 700})

    for path in ("/notifications/", "/topics/", "/preferences/", "/chat/lobby/"):
        page.goto(web.base_url + path)
        expect(page.locator("[data-hub-bell-button]")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{path} scrolls sideways at phone width ({width}px)"

    page.locator("[data-hub-bell-button]").click()
    panel = page.locator("[data-hub-bell-panel]")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375, box


@pytest.fixture
def web_on_private_redis(web, tmp_path):
    """This package's web process moved onto a redis-server the test restarts
    (layer, cache, sessions); put back on the shared one by the next test."""
    from tools.redis_server import RedisServer

    redis = RedisServer(tmp_path / "redis").start()
    web.live_hub.stop(WEB)
    env = {"PORT": str(web.port), "REDIS_URL": redis.url}
    web.live_hub.start(WEB, entry="web", env={**env, "CELERY_BROKER_URL": redis.url})
    web.live_hub.wait_web(WEB, web.base_url)
    yield web, redis
    web.live_hub.stop(WEB)
    redis.stop()


def test_bell__redis_restart_the_open_page_gets_what_it_missed(
    web_on_private_redis, signed_in, make_web_user
):
    web, redis = web_on_private_redis
    alice = make_web_user("alice")
    staff = make_web_user("ops", is_staff=True)
    page = signed_in(alice)
    expect(conn(page)).to_have_attribute("data-state", "open")
    notify(web.base_url, staff, alice, "before the outage")
    expect(bell_item(page, "before the outage")).to_have_count(1)
    new_sockets = []
    page.on("websocket", lambda ws: new_sockets.append(ws))

    redis.kill()
    notify(web.base_url, staff, alice, "during the outage")  # stored; push lost
    redis.start()

    # The page never reconnects or resumes: the server catches its socket up.
    expect(bell_item(page, "during the outage")).to_have_count(1)
    expect(badge(page)).to_have_text("2")
    notify(web.base_url, staff, alice, "after the outage")
    expect(bell_item(page, "after the outage")).to_have_count(1)
    expect(page.locator("[data-hub-bell-list] li")).to_have_count(3)
    assert new_sockets == []  # the same socket throughout: no reconnect


def until(page, predicate, what: str) -> None:
    """Let Playwright deliver events (route callbacks) until ``predicate()``."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        page.wait_for_timeout(20)  # pumps Playwright's events; polls test state


def test_bell__a_push_during_its_resume_does_not_move_the_resume_point(
    web, contexts, make_web_user
):
    """Reconnected, the bell sends `resume`; a live push newer than what the
    replay has still to send can come first. If the connection drops then, the
    bell must resume from before the replay, not from that push."""
    alice = make_web_user("alice")
    staff = make_web_user("ops", is_staff=True)
    notify(web.base_url, staff, alice, "one")
    routes, held = [], []
    drop_pushes = {"on": False}

    def route(ws):  # between the page and the real server, one per connection
        server = ws.connect_to_server()
        routes.append(ws)

        def to_server(message):
            if '"resume"' in message and len(routes) == 2:
                held.append(message)  # the second connection's resume: held
            else:
                server.send(message)

        def to_page(message):
            if not (drop_pushes["on"] and '"notification"' in message):
                ws.send(message)

        ws.on_message(to_server)
        server.on_message(to_page)

    context = contexts()
    context.route_web_socket(re.compile(r"/ws/notifications/$"), route)
    page = context.new_page()
    page.goto(f"{web.base_url}/login/?next=/notifications/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw-alice")
    page.get_by_role("button", name="Log in").click()
    expect(bell_item(page, "one")).to_have_count(1)

    drop_pushes["on"] = True  # "two" is lost to this page: it must resume it
    notify(web.base_url, staff, alice, "two")
    expect(badge(page)).to_have_text("2")  # the unread frame after it passed
    drop_pushes["on"] = False
    routes[0].close()
    until(page, lambda: held, "the reconnected bell's resume")
    notify(web.base_url, staff, alice, "three")  # pushed live, ahead of the replay
    expect(bell_item(page, "three")).to_have_count(1)
    routes[1].close()  # before the replay: the resume is never answered

    expect(bell_item(page, "two")).to_have_count(1)
    expect(page.locator("[data-hub-bell-list] li")).to_have_count(3)
    assert len(routes) == 3


def test_bell_safe_url__follows_only_http_links_and_paths_on_this_site(contexts, web):
    page = contexts().new_page()
    page.goto(web.base_url + "/login/")

    verdicts = page.evaluate(
        """async (urls) => {
          const { safeUrl } = await import("/static/hub/bell.js");
          return urls.map((url) => safeUrl(url));
        }""",
        REFUSED + ACCEPTED,
    )

    assert verdicts[: len(REFUSED)] == [None] * len(REFUSED)
    assert None not in verdicts[len(REFUSED) :]
    assert verdicts[len(REFUSED)] == web.base_url + "/topics/"  # ACCEPTED[0]
