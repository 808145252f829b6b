"""The live dashboard in a real browser: tiles follow the hub within 5 s of
activity (Beat -> worker -> /ws/dashboard/), custom metrics appear live."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.browser.conftest import api_post, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

# The contract: a change shows on the dashboard within 5 s.
REFLECT_MS = 5_000
# Beat and the worker may start cold: the first push may take longer.
FIRST_PUSH_MS = 30_000
BEAT = "browser-beat"


@pytest.fixture(scope="module")
def beat(live_hub):
    """The Procfile's beat, which pushes dashboard stats every 2 s."""
    live_hub.start(BEAT, entry="beat")
    yield
    live_hub.stop(BEAT)


def tile(page, name: str):
    return page.locator(f"[data-testid='tile-{name}']")


def next_push(page, timeout_ms: int) -> None:
    """Wait for a stats frame newer than the one shown."""
    dashboard = page.locator("#dashboard")
    shown_at = dashboard.get_attribute("data-stats-at")
    expect(dashboard).not_to_have_attribute(
        "data-stats-at", shown_at, timeout=timeout_ms
    )


def settled(page, name: str, timeout_ms: int, pushes: int = 10) -> int:
    """The tile's value once two consecutive pushes show the same one."""
    next_push(page, timeout_ms)
    value = tile(page, name).get_attribute("data-value")
    for _ in range(pushes):
        next_push(page, REFLECT_MS)
        previous, value = value, tile(page, name).get_attribute("data-value")
        if value == previous:
            return int(value)
    raise AssertionError(f"{name} did not settle over {pushes} pushes")


def test_dashboard__tiles_change_within_5s_of_activity(
    beat, web, signed_in, make_web_user
):
    staff = make_web_user("ops", is_staff=True)
    alice = make_web_user("alice")
    page = signed_in(staff, "/dashboard/")
    expect(page.get_by_test_id("dashboard-status")).to_have_attribute(
        "data-state", "live"
    )
    dashboard = page.locator("#dashboard")
    expect(dashboard).to_have_attribute("data-stats-at", re.compile(r".+"))
    # Each process reports its sockets once a second and Beat pushes every 2 s,
    # so a count settles within a push or two: wait for two pushes that agree.
    sockets_before = settled(page, "sockets", FIRST_PUSH_MS)
    expect(tile(page, "workers")).not_to_have_attribute("data-value", "0")
    delivered_before = tile(page, "delivered-per-min").get_attribute("data-value")

    # Activity: alice opens the hub in a browser and is notified.
    alice_page = signed_in(alice, "/notifications/")
    expect(alice_page.locator("[data-hub-conn]")).to_have_attribute(
        "data-state", "open"
    )
    expect(tile(page, "sockets")).to_have_attribute(
        "data-value", str(sockets_before + 1), timeout=REFLECT_MS
    )
    api_post(
        web.base_url,
        staff,
        "/api/notifications/",
        {"recipients": [alice.pk], "title": "Deploy finished"},
    )
    expect(alice_page.locator("[data-hub-badge-count]")).to_have_text("1")
    expect(tile(page, "delivered-per-min")).not_to_have_attribute(
        "data-value", delivered_before or "", timeout=REFLECT_MS
    )

    # A custom metric pushed by a service appears as a tile of its own, at once.
    api_post(
        web.base_url, staff, "/api/dashboard/metrics/", {"name": "orders", "value": 42}
    )
    expect(page.get_by_test_id("tile-metric-orders-value")).to_have_text(
        "42", timeout=REFLECT_MS
    )
    screenshot(page, "dashboard")
