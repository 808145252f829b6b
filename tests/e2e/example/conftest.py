"""The example product (examples/product/) and the hub, both real, on two sites.

The hub's web process (the Procfile's ``web``, with a JWT secret and the
product's origin allowed) answers on ``127.0.0.1:<port>``; the product, a
separate Django project with its own SQLite database, on ``localhost:<port>``.
The product reaches the hub only through the Python client of this tree
(``clients/python``) and the browser through ``<hub-bell>``.
"""

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.browser import conftest as browser_tests
from tests.support.stack import BASE_DIR, START_TIMEOUT_SECS, free_port

# The browser tests' Chromium and Playwright timeouts, shared (fixtures).
browser = browser_tests.browser
_playwright_timeouts = browser_tests._playwright_timeouts

PRODUCT_DIR = BASE_DIR / "examples" / "product"
CLIENT_SRC = BASE_DIR / "clients" / "python" / "src"
HUB_WEB = "example-hub-web"
# Short, so that the bell refreshes its token several times within one test.
TOKEN_TTL_SECS = 6
API_KEY_SCOPES = "notify,subscribers,tokens"


@dataclass
class HubSite:
    base_url: str
    jwt_secret: str
    product_url: str
    product_port: int


@dataclass
class Product:
    url: str
    api_key: str
    log: Path


@pytest.fixture(scope="package")
def hub_site(live_hub):
    """The hub's web process for the product: its JWT secret, the product's
    origin allowed; the session hub's worker does the fan-out."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=BASE_DIR,
        env=live_hub.env,
        check=True,
    )
    product_port = free_port()
    product_url = f"http://localhost:{product_port}"
    jwt_secret = secrets.token_urlsafe(32)
    base_url = live_hub.start_web(
        HUB_WEB, HUB_JWT_SECRET=jwt_secret, HUB_CORS_ALLOWED_ORIGINS=product_url
    )
    yield HubSite(base_url, jwt_secret, product_url, product_port)
    live_hub.stop(HUB_WEB)


def _create_api_key(live_hub) -> str:
    """A key for the product, made as `make example` makes it."""
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "hub_api_key",
            "create",
            "example-product",
            "--scopes",
            API_KEY_SCOPES,
        ],
        cwd=BASE_DIR,
        env=live_hub.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def product(live_hub, hub_site, tmp_path):
    """The product, migrated, serving, and seeded (its seed notifies through
    the hub, so it runs once both answer). Function scope: the test database is
    emptied after each test, the product's key with it."""
    api_key = _create_api_key(live_hub)
    # Only what the product needs: above all not DJANGO_SETTINGS_MODULE (the
    # hub's, set by pytest) nor DATABASE_URL.
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(CLIENT_SRC),
        "PYTHONUNBUFFERED": "1",
        "HUB_URL": hub_site.base_url,
        "HUB_API_KEY": api_key,
        "HUB_JWT_SECRET": hub_site.jwt_secret,
        "HUB_TOKEN_TTL_SECS": str(TOKEN_TTL_SECS),
        "PRODUCT_URL": hub_site.product_url,
        "PRODUCT_VAR_DIR": str(tmp_path / "product-var"),
    }
    log_path = tmp_path / "product.log"
    manage = [sys.executable, "manage.py"]
    with open(log_path, "ab") as log:
        subprocess.run(
            [*manage, "migrate", "--noinput", "-v0"],
            cwd=PRODUCT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
        server = subprocess.Popen(
            [
                *manage,
                "runserver",
                f"127.0.0.1:{hub_site.product_port}",
                "--noreload",
            ],
            cwd=PRODUCT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_product(server, hub_site.product_url, log_path)
        with open(log_path, "ab") as log:
            subprocess.run(
                [*manage, "seed_example"],
                cwd=PRODUCT_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
            )
        yield Product(hub_site.product_url, api_key, log_path)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_product(server: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the product exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/login/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"the product did not answer; see {log}")


@pytest.fixture
def contexts(browser):
    """New browser contexts (cookies are per context), closed after the test."""
    opened = []

    def open_context():
        context = browser.new_context(viewport=browser_tests.VIEWPORT)
        context.set_default_timeout(browser_tests.WAIT_MS)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()
