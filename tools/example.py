"""`make example`: the hub's stack and the example product (examples/product/).

The product is a separate Django project on another site (http://localhost:8001,
while the hub is on http://127.0.0.1:8000), so nothing of the hub's session
reaches it: it talks to the hub only with an API key (from its back end) and
connection tokens (from the browser's <hub-bell>), as a real product would.
"""

from __future__ import annotations

import secrets
import shlex
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from tools.devstack import BASE_DIR, VAR_DIR, procfile

EXAMPLE_DIR = BASE_DIR / "examples" / "product"
STATE_DIR = VAR_DIR / "example"
PRODUCT_URL = "http://localhost:8001"
PRODUCT_ADDR = ("127.0.0.1", 8001)
API_KEY_NAME = "example-product"
# What the product's back end does: identify users, notify them, mint tokens.
API_KEY_SCOPES = "notify,subscribers,tokens"
START_TIMEOUT_SECS = 60.0


def dev_secret() -> str:
    """The hub's JWT secret for local runs, made once and kept in var/example/."""
    path = STATE_DIR / "hub_jwt_secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_api_key(python: str, env: dict[str, str]) -> str:
    """A new key for the product, the last run's revoked: keys are shown only
    once, and this one goes straight into the product's environment."""
    manage = [python, "manage.py", "hub_api_key"]
    # Fails harmlessly on a first run, when there is no key to revoke.
    subprocess.run(
        [*manage, "revoke", API_KEY_NAME], cwd=BASE_DIR, env=env, capture_output=True
    )
    done = subprocess.run(
        [*manage, "create", API_KEY_NAME, "--scopes", API_KEY_SCOPES],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    # The command prints the key alone on its last line.
    return done.stdout.strip().splitlines()[-1]


def write_procfile() -> Path:
    """The hub's Procfile entries plus the product, for one honcho."""
    entries = procfile()
    lines = [f"{name}: {entries[name]}" for name in ("web", "worker", "beat")]
    host, port = PRODUCT_ADDR
    where = shlex.quote(str(EXAMPLE_DIR))
    lines.append(
        f"product: cd {where} && exec python manage.py runserver {host}:{port} "
        "--noreload"
    )
    path = STATE_DIR / "Procfile"
    path.write_text("\n".join(lines) + "\n")
    return path


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (local http URL)
            return response.status == 200
    except OSError:
        return False


def _listening(addr: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(addr, timeout=0.5):
            return True
    except OSError:
        return False


def _wait_started(honcho: subprocess.Popen, hub_url: str) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_SECS
    while time.monotonic() < deadline and honcho.poll() is None:
        if _answers(hub_url + "/healthz") and _listening(PRODUCT_ADDR):
            return True
        time.sleep(0.2)
    return False


def run(python: str, env: dict[str, str]) -> int:
    """Start hub and product, seed the product once both answer, then wait."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    # Two Django projects share this environment; each names its own settings.
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.setdefault("HUB_JWT_SECRET", dev_secret())
    env.setdefault("HUB_CORS_ALLOWED_ORIGINS", PRODUCT_URL)
    # The hub on PORT (default 8000) as `make run` serves it.
    hub_url = "http://127.0.0.1:" + env.setdefault("PORT", "8000")
    env.update(
        HUB_URL=hub_url,
        HUB_API_KEY=create_api_key(python, env),
        PRODUCT_URL=PRODUCT_URL,
    )
    manage = [python, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput"], cwd=EXAMPLE_DIR, env=env, check=True
    )
    honcho = subprocess.Popen(
        [
            python,
            "-m",
            "honcho",
            "-f",
            str(write_procfile()),
            "-d",
            str(BASE_DIR),
            "start",
            "-p",
            env["PORT"],
        ],
        cwd=BASE_DIR,
        env=env,
    )

    def forward(signum, _frame):
        honcho.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    if _wait_started(honcho, hub_url):
        # After the hub answers, so that the demo users reach it (identify).
        subprocess.run(
            [*manage, "seed_example", "--verbosity", "0"],
            cwd=EXAMPLE_DIR,
            env=env,
            check=False,
        )
        print(
            f"\nThe example product: log in at {PRODUCT_URL}/login/ as alice, bob or "
            "carol,\nwith the password product-demo-pass (two browsers: bob assigns "
            "alice a ticket).\n"
            f"The hub beside it: {hub_url}/ (admin / hub-demo-pass). "
            "Ctrl-C stops both.\n",
            flush=True,
        )
    else:
        print("example: the hub or the product did not start; see the log above")
        honcho.send_signal(signal.SIGTERM)
    return honcho.wait()
