"""The example product in a real browser: its users see the hub's bell on its
own pages, on another site, fed by its back end through the Python client."""

import json
import re
import time

import pytest
from playwright.sync_api import expect

from notifications.models import Notification
from tests.e2e.example.conftest import TOKEN_TTL_SECS

pytestmark = pytest.mark.django_db(transaction=True)

DEMO_PASSWORD = "product-demo-pass"


def badge(page):
    return page.locator("hub-bell [data-hub-badge-count]")


def conn(page):
    return page.locator("hub-bell [data-hub-conn]")


def toast(page, title: str):
    return page.locator("hub-bell .hub-toast").filter(has_text=title)


def bell_item(page, title: str):
    return page.locator("hub-bell [data-hub-bell-list] li").filter(has_text=title)


def log_in(page, product, username: str) -> None:
    page.goto(product.url + "/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(product.url + "/")


def record_sockets(page) -> tuple[list, list[dict], list[dict]]:
    """The page's sockets, and every frame they send and receive, parsed."""
    sockets: list = []
    sent: list[dict] = []
    received: list[dict] = []

    def on_socket(ws):
        sockets.append(ws)
        ws.on("framesent", lambda payload: sent.append(json.loads(payload)))
        ws.on("framereceived", lambda payload: received.append(json.loads(payload)))

    page.on("websocket", on_socket)
    return sockets, sent, received


def assign(page, product, ticket_title: str, assignee: str) -> None:
    """Through the product's own ticket page, as its users do."""
    page.goto(product.url + "/")
    page.get_by_role("link", name=ticket_title).click()
    page.get_by_label("Assignee").select_option(label=assignee)
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_text(f"assigned to {assignee}")).to_be_visible()


def test_example_product__live_bell_on_another_site(product, contexts):
    alice = contexts()
    first = alice.new_page()
    sockets, sent, frames = record_sockets(first)

    # The seed's "bob assigned you #1" is waiting when alice first logs in.
    log_in(first, product, "alice")
    expect(badge(first)).to_have_text("1")
    second = alice.new_page()
    second.goto(product.url + "/")
    for page in (first, second):
        expect(conn(page)).to_have_attribute("data-state", "open")
    connected_at = time.monotonic()

    # Bob, in his own browser, assigns alice a ticket on the product's page; the
    # product's back end notifies her through the client after its commit.
    bob = contexts().new_page()
    log_in(bob, product, "bob")
    assign(bob, product, "Add a dark mode", "alice")

    expect(toast(first, "bob assigned you #2: Add a dark mode")).to_be_visible()
    expect(badge(first)).to_have_text("2")
    expect(badge(second)).to_have_text("2")
    # The socket is the hub's, on another site than the page (127.0.0.1, not
    # localhost), so no cookie is shared: it signed in with a connection token.
    assert [ws.url.split("/")[2].split(":")[0] for ws in sockets] == ["127.0.0.1"]
    assert sent[0]["type"] == "auth"

    # Mark read from the second tab's bell: a click reads it and follows its
    # link, back to the product's ticket page; the first tab's badge follows.
    second.locator("hub-bell [data-hub-bell-button]").click()
    item = bell_item(second, "bob assigned you #2")
    expect(item).to_be_visible()
    item.locator(".hub-bell__link").click()
    expect(second).to_have_url(re.compile(r"/tickets/2/$"))
    expect(badge(first)).to_have_text("1")
    expect(badge(second)).to_have_text("1")
    assigned = Notification.objects.get(title__startswith="bob assigned you #2")
    assert assigned.read_at is not None

    # The page stays open past its first token's lifetime: the bell refreshes
    # the token on the open socket (answered auth_ok) instead of reconnecting.
    def refreshes() -> int:
        return sum(frame.get("type") == "auth_ok" for frame in frames)

    while refreshes() < 1 or time.monotonic() - connected_at < TOKEN_TTL_SECS + 1:
        sockets[0].wait_for_event(
            "framereceived", predicate=lambda payload: "auth_ok" in payload
        )
    assert len(sockets) == 1, "the bell reconnected instead of refreshing"
    assert not sockets[0].is_closed()

    # And the socket, on its refreshed token, still delivers.
    bob.get_by_label("Comment").fill("Dark mode ships with 2.0")
    bob.get_by_role("button", name="Comment").click()
    expect(toast(first, "bob commented on #2")).to_be_visible()
    expect(badge(first)).to_have_text("2")
    expect(badge(second)).to_have_text("2")
    # Everyone concerned heard of the comment but bob, who wrote it: alice
    # (assignee and reporter) and carol (watcher), by their ids on the product.
    heard = Notification.objects.filter(title__startswith="bob commented on #2")
    names = heard.values_list("recipient__subscriber__name", flat=True)
    assert sorted(names) == ["Alice Archer", "Carol Cole"]

    bob.get_by_role("button", name="Close ticket").click()
    expect(toast(first, "bob closed #2: Add a dark mode")).to_be_visible()
    expect(badge(second)).to_have_text("3")
    closed = Notification.objects.filter(title__startswith="bob closed #2")
    assert sorted(closed.values_list("level", flat=True)) == ["success", "success"]
