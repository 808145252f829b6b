"""Browser tests: Debian's Chromium driven by Playwright against a real web
process (the Procfile's ``web``, production settings, collected static files).

The web process here is this package's own, on a port of its own, so a test may
kill and restart it without disturbing the session's ``live_hub``; the session
hub's web stays up and serves the API while this one is down.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from rest_framework.authtoken.models import Token

from tests.support.stack import BASE_DIR, LiveHub, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1200, "height": 800}
SCREENSHOTS = BASE_DIR / "docs" / "screenshots"
# Playwright waits (expect / wait_for) give up after this; never a sleep.
WAIT_MS = 15_000
WEB = "browser-web"


class BrowserWeb:
    """This package's web process: start, SIGKILL, start again on the same port."""

    def __init__(self, live_hub: LiveHub) -> None:
        self.live_hub = live_hub
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.live_hub.start(WEB, entry="web", env={"PORT": str(self.port)})
        self.live_hub.wait_web(WEB, self.base_url)

    def kill(self) -> None:
        self.live_hub.kill(WEB)

    def ensure_running(self) -> None:
        if WEB not in self.live_hub.processes:
            self.start()


@pytest.fixture(scope="package")
def browser_web(live_hub):
    # Production serves what collectstatic gathered (the Procfile's release step).
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=BASE_DIR,
        env=live_hub.env,
        check=True,
    )
    web = BrowserWeb(live_hub)
    web.start()
    yield web
    if WEB in live_hub.processes:
        live_hub.stop(WEB)


@pytest.fixture
def web(browser_web):
    browser_web.ensure_running()  # a test before may have killed it
    return browser_web


@pytest.fixture(scope="package")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)"
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running in this thread, which
    # trips Django's async-safety guard on every ORM call the tests make. The
    # guard protects connections shared with coroutines; there are none here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "1"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture(autouse=True)
def _playwright_timeouts():
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)


@pytest.fixture
def make_web_user(db):
    """A user whose password ``pw-<username>`` the web process can check.

    The test settings hash with MD5 for speed, which the web process (real
    settings) does not accept; PBKDF2 with few iterations it does (and upgrades).
    """

    def make(username: str, **extra):
        user = get_user_model().objects.create(username=username, **extra)
        user.password = PBKDF2PasswordHasher().encode(
            "pw-" + username, PBKDF2PasswordHasher().salt(), iterations=1000
        )
        user.save(update_fields=["password"])
        Token.objects.create(user=user)
        return user

    return make


@pytest.fixture
def contexts(browser, web):
    """New browser contexts (cookies are per context), closed after the test."""
    opened = []

    def open_context(**options):
        context = browser.new_context(
            viewport=options.pop("viewport", VIEWPORT), **options
        )
        context.set_default_timeout(WAIT_MS)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()


@pytest.fixture
def signed_in(contexts, web):
    """A page of a new context in which ``user`` has logged in through /login/,
    at ``path``. (A session made in this process would not do: the web process
    signs sessions with its own secret key.)"""

    def sign_in(user, path: str = "/notifications/", **options):
        page = contexts(**options).new_page()
        page.goto(f"{web.base_url}/login/?next={path}")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill("pw-" + user.username)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(web.base_url + path)
        return page

    return sign_in


def wait_for_row(predicate, what: str) -> None:
    """Poll a row another process writes, until ``predicate`` is true."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)  # polling the database, not a race fix
    raise TimeoutError(f"timed out waiting for {what}")


def api_post(base_url: str, user, path: str, payload: dict) -> httpx.Response:
    response = httpx.post(
        base_url + path,
        json=payload,
        headers={"Authorization": f"Token {user.auth_token.key}"},
        timeout=10,
    )
    response.raise_for_status()
    return response


def screenshot(page, name: str) -> None:
    """Save the README's picture of this page when UPDATE_SCREENSHOTS=1.

    Always taken (a page that cannot render fails here); written to docs/ only
    on request, so an ordinary test run leaves the work tree clean.
    """
    png = page.screenshot()
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / f"{name}.png").write_bytes(png)
