"""<hub-bell> on a product's page from another origin: a tiny product site on
``localhost`` (its own cookie session and a token endpoint minting real HS256
connection tokens) embeds the element while the hub runs on ``127.0.0.1``."""

import json
import re
import threading
import time
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from playwright.sync_api import expect

from emails.models import Preference
from notifications.models import Notification
from subscribers.models import Subscriber
from tests.e2e.browser.conftest import api_post
from tools.devstack import free_port

pytestmark = pytest.mark.django_db(transaction=True)

JWT_SECRET = "embed-test-secret-" + "x" * 32
WRONG_SECRET = "not-the-hubs-secret-" + "y" * 32
TOKEN_TTL_SECS = 6  # short, so the test sees renewals outlive a token
EMBED_WEB = "embed-web"
# The product's own CSS, as hostile as it gets: none of it may reach the bell.
PRODUCT_CSS = """
  button { visibility: hidden !important; }
  .hub-bell__badge, .hub-toast { display: none !important; }
"""
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Product</title>
<style>{css}</style>
<script type="module" src="{hub}/static/hub/embed.js"></script>
</head><body>
<header><a href="/">Product</a>
<span class="hub-bell__badge" id="own-badge">the product's own badge</span>
<p class="hub-toasts" id="own-toasts">the product's own toasts</p>
<hub-bell hub-url="{hub}" token-url="/hub-token/"></hub-bell></header>
<script>
  window.hubFrames = [];
  document.addEventListener("hub:frame", (e) => window.hubFrames.push(e.detail.type));
</script>
</body></html>"""


class ProductSite:
    """The product: ``/?as=<external id>`` signs that user in with a cookie and
    serves the page; ``/hub-token/`` mints a token for the cookie's user."""

    def __init__(self, hub_url: str, port: int) -> None:
        self.hub_url = hub_url
        self.secret = JWT_SECRET
        self.bad_tokens = 0  # the next N tokens are signed with the wrong key
        self.signed_out_status = 401  # the token endpoint's answer to nobody
        self.token_requests = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/":
                    site.page(self, parse_qs(url.query).get("as", [""])[0])
                elif url.path == "/hub-token/":
                    site.token(self)
                else:
                    self.send_error(404)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        # localhost, not 127.0.0.1: another origin and another site than the hub's.
        self.base_url = f"http://localhost:{port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def page(self, handler, external_id: str) -> None:
        body = PAGE.format(hub=self.hub_url, css=PRODUCT_CSS).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Set-Cookie", f"product_user={external_id}; Path=/")
        handler.end_headers()
        handler.wfile.write(body)

    def token(self, handler) -> None:
        self.token_requests += 1
        cookie = SimpleCookie(handler.headers.get("Cookie", ""))
        user = cookie["product_user"].value if "product_user" in cookie else ""
        if not user:
            handler.send_response(self.signed_out_status)
            if self.signed_out_status == 302:  # as login_required does
                handler.send_header("Location", "/login/?next=/hub-token/")
            handler.end_headers()
            return
        secret = self.secret
        if self.bad_tokens:
            self.bad_tokens -= 1
            secret = WRONG_SECRET
        now = int(time.time())
        exp = now + TOKEN_TTL_SECS
        claims = {"sub": user, "aud": "hub", "iat": now, "exp": exp, "name": user}
        body = json.dumps(
            {"token": jwt.encode(claims, secret, algorithm="HS256"), "expires_at": exp}
        ).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Cache-Control", "no-store")
        handler.end_headers()
        handler.wfile.write(body)


class ProductsHub:
    """A hub web process that takes connection tokens from one product's origin
    (chosen first, so the hub can allow it); it can be killed and restarted on
    the same port."""

    def __init__(self, live_hub) -> None:
        self.live_hub = live_hub
        self.product_port = free_port()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PORT": str(self.port),
            "HUB_JWT_SECRET": JWT_SECRET,
            "HUB_CORS_ALLOWED_ORIGINS": f"http://localhost:{self.product_port}",
        }

    def start(self) -> None:
        self.live_hub.start(EMBED_WEB, entry="web", env=self.env)
        self.live_hub.wait_web(EMBED_WEB, self.url)

    def kill(self) -> None:
        self.live_hub.kill(EMBED_WEB)


@pytest.fixture(scope="module")
def products_hub(browser_web, live_hub):
    """browser_web collected the static files this web process serves."""
    hub = ProductsHub(live_hub)
    hub.start()
    yield hub
    if EMBED_WEB in live_hub.processes:
        live_hub.stop(EMBED_WEB)


@pytest.fixture
def product(products_hub):
    if EMBED_WEB not in products_hub.live_hub.processes:
        products_hub.start()  # a test before killed it
    site = ProductSite(products_hub.url, products_hub.product_port)
    yield site
    site.stop()


def badge(page):
    return page.locator("hub-bell [data-hub-badge-count]")


def state(page):
    return page.locator("hub-bell [data-hub-conn]")


def item(page, title: str):
    return page.locator("hub-bell [data-hub-bell-list] li").filter(has_text=title)


def notify(hub_url: str, staff, external_id: str, title: str, **fields) -> None:
    api_post(
        hub_url,
        staff,
        "/api/notifications/",
        {"subscribers": [external_id], "title": title, **fields},
    )


def open_product(contexts, product, external_id: str, context=None):
    """The product's page, signed in as ``external_id``; its sockets recorded."""
    page = (context or contexts()).new_page()
    page.sockets = []
    page.on("websocket", lambda ws: page.sockets.append(ws.url))
    page.goto(f"{product.base_url}/?as={external_id}")
    return page


def test_embed__count_live_toast_read_and_token_renewal(
    product, contexts, make_web_user
):
    hub_url = product.hub_url
    staff = make_web_user("ops", is_staff=True)
    notify(hub_url, staff, "cust-42", "Order shipped")
    notify(hub_url, staff, "cust-42", "Invoice ready", body="November")
    context = contexts()
    page = open_product(contexts, product, "cust-42", context)

    expect(state(page)).to_have_attribute("data-state", "open")
    expect(badge(page)).to_have_text("2")
    # The product's CSS hides its own buttons and any .hub-bell__badge; the
    # bell's shadow root keeps its own visible, and its CSS leaks out neither.
    expect(page.locator("hub-bell [data-hub-badge]")).to_be_visible()
    expect(page.locator("hub-bell [data-hub-bell-button]")).to_be_visible()
    expect(page.locator("#own-badge")).to_be_hidden()
    own_toasts = page.locator("#own-toasts")
    assert own_toasts.evaluate("(e) => getComputedStyle(e).position") == "static"
    assert page.evaluate("document.querySelector('hub-bell').shadowRoot.mode") == "open"
    assert not any("token" in url for url in page.sockets), page.sockets
    second = open_product(contexts, product, "cust-42", context)
    expect(badge(second)).to_have_text("2")

    notify(hub_url, staff, "cust-42", "Ticket answered", body="by support")

    toast = page.locator("hub-bell .hub-toast").filter(has_text="Ticket answered")
    expect(toast).to_be_visible()
    expect(badge(page)).to_have_text("3")
    expect(badge(second)).to_have_text("3")

    # Keyboard: the bell is a button; Escape closes the dropdown, focus returns.
    page.locator("hub-bell [data-hub-bell-button]").focus()
    page.keyboard.press("Enter")
    expect(page.locator("hub-bell [data-hub-bell-panel]")).to_be_visible()
    expect(item(page, "Order shipped")).to_be_visible()
    box = page.locator("hub-bell [data-hub-bell-panel]").bounding_box()
    assert box["x"] >= 0, box  # the bell is at the page's left edge here
    page.keyboard.press("Escape")
    expect(page.locator("hub-bell [data-hub-bell-panel]")).to_be_hidden()
    expect(page.locator("hub-bell [data-hub-bell-button]")).to_be_focused()

    # Mark read through the API with the token; the other tab follows.
    page.locator("hub-bell [data-hub-bell-button]").click()
    item(page, "Ticket answered").locator(".hub-bell__link").click()
    expect(badge(second)).to_have_text("2")
    expect(item(second, "Ticket answered")).not_to_have_class(
        re.compile("hub-bell__item--unread")
    )
    assert Notification.objects.get(title="Ticket answered").read_at is not None

    # Two renewals on the open socket outlive the first token (6 s), and
    # the same socket still delivers.
    page.wait_for_function(
        "window.hubFrames.filter((t) => t === 'auth_ok').length >= 2",
        timeout=4 * TOKEN_TTL_SECS * 1000,
    )
    notify(hub_url, staff, "cust-42", "After the renewal")
    expect(
        page.locator("hub-bell .hub-toast").filter(has_text="After the renewal")
    ).to_be_visible()
    expect(state(page)).to_have_attribute("data-state", "open")
    assert len(page.sockets) == 1, page.sockets

    page.locator("hub-bell [data-hub-read-all]").click()
    expect(badge(page)).to_have_text("0")
    expect(badge(second)).to_have_text("0")
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_embed__in_app_off_is_listed_without_a_toast(product, contexts, make_web_user):
    staff = make_web_user("ops", is_staff=True)
    notify(product.hub_url, staff, "cust-q", "Welcome")  # creates the subscriber
    Preference.objects.create(
        user=Subscriber.objects.get(external_id="cust-q").user,
        category_channels={"billing": {"in_app": False}},
    )
    page = open_product(contexts, product, "cust-q")
    expect(state(page)).to_have_attribute("data-state", "open")

    notify(product.hub_url, staff, "cust-q", "Invoice paid", category="billing")
    notify(product.hub_url, staff, "cust-q", "Order shipped", category="orders")

    toasts = page.locator("hub-bell .hub-toast")
    expect(toasts.filter(has_text="Order shipped")).to_be_visible()
    # It came first; counted now (an expect would wait for a toast to expire).
    assert toasts.filter(has_text="Invoice paid").count() == 0
    expect(item(page, "Invoice paid")).to_have_count(1)
    expect(badge(page)).to_have_text("3")


def test_embed__web_restart_resumes_with_nothing_lost_or_doubled(
    product, products_hub, live_hub, contexts, make_web_user
):
    staff = make_web_user("ops", is_staff=True)
    notify(product.hub_url, staff, "cust-9", "before the restart")
    page = open_product(contexts, product, "cust-9")
    expect(item(page, "before the restart")).to_have_count(1)

    products_hub.kill()
    expect(state(page)).to_have_attribute("data-state", "reconnecting")
    # While the product's hub web is down, another web process takes the API.
    for i in range(3):
        notify(live_hub.base_url, staff, "cust-9", f"while down {i}")
    products_hub.start()

    expect(state(page)).to_have_attribute("data-state", "open")
    for title in ("before the restart", *(f"while down {i}" for i in range(3))):
        expect(item(page, title)).to_have_count(1)
    expect(badge(page)).to_have_text("4")
    assert len(page.sockets) >= 2, page.sockets


def test_embed__refused_token_reconnects_with_a_fresh_one(
    product, contexts, make_web_user
):
    staff = make_web_user("ops", is_staff=True)
    notify(product.hub_url, staff, "cust-7", "Welcome")
    product.bad_tokens = 1
    page = open_product(contexts, product, "cust-7")

    # The count comes with `hello`, which only a token the hub took gets.
    expect(badge(page)).to_have_text("1")
    assert len(page.sockets) == 2, page.sockets
    assert product.token_requests == 2


def test_embed__gives_up_after_repeated_refusals(product, contexts):
    product.bad_tokens = 100
    page = open_product(contexts, product, "cust-8")

    expect(state(page)).to_have_attribute("data-state", "closed")
    expect(state(page)).to_have_text("Signed out: log in again")
    assert len(page.sockets) == 5, page.sockets  # the first and 4 retries


@pytest.mark.parametrize("answer", [401, 302])
def test_embed__nobody_signed_in_to_the_product_stops_quietly(
    product, contexts, answer
):
    product.signed_out_status = answer
    page = open_product(contexts, product, "")

    expect(state(page)).to_have_attribute("data-state", "closed")
    expect(state(page)).to_have_text("Signed out: log in again")
    assert page.sockets == []  # no token, no socket
    assert product.token_requests == 5  # the first and 4 retries
