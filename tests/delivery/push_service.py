"""A real Web Push service for the tests: the npm package web-push-testing.

It verifies each push's VAPID JWT against the subscription's application
server key and decrypts the aes128gcm body, so a test reads back exactly what a
browser would have received. Installed from tests/delivery/node/package.json
and its lock file (``npm ci``: `make test` does it, and so does this module when
node_modules is missing).
"""

import json
import subprocess
import time
from pathlib import Path

import httpx

from tools.devstack import free_port

NODE_DIR = Path(__file__).resolve().parent / "node"
SERVER_JS = NODE_DIR / "node_modules" / "web-push-testing" / "src" / "bin" / "server.js"
START_TIMEOUT_SECS = 20.0


def install() -> None:
    """``npm ci`` from the lock file, once per checkout."""
    if not SERVER_JS.exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            check=True,
        )


class PushService:
    """One web-push-testing server on a free port, run in the foreground."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> "PushService":
        install()
        log = open(self.log_path, "ab")  # noqa: SIM115 (kept open with the server)
        self.proc = subprocess.Popen(
            ["node", str(SERVER_JS), str(self.port)], stdout=log, stderr=log
        )
        deadline = time.monotonic() + START_TIMEOUT_SECS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"web-push-testing exited; see {self.log_path}")
            try:
                if httpx.post(self.base_url + "/status", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)  # polling a starting server, not a race fix
        raise TimeoutError(f"web-push-testing did not start; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def subscribe(self, application_server_key: str) -> dict:
        """A new subscription, as ``PushSubscription.toJSON()`` plus ``clientHash``.

        The server names itself ``localhost``; the endpoint is rewritten to
        127.0.0.1, which is what it listens on here.
        """
        response = httpx.post(
            self.base_url + "/subscribe",
            json={
                "userVisibleOnly": "true",
                "applicationServerKey": application_server_key,
            },
        )
        response.raise_for_status()
        data = response.json()["data"]
        data["endpoint"] = data["endpoint"].replace(
            f"http://localhost:{self.port}", self.base_url
        )
        return data

    def messages(self, client_hash: str) -> list[dict]:
        """What the service received for one subscription, decrypted, parsed."""
        response = httpx.post(
            self.base_url + "/get-notifications", json={"clientHash": client_hash}
        )
        response.raise_for_status()
        return [json.loads(m) for m in response.json()["data"]["messages"]]

    def expire(self, client_hash: str) -> None:
        """From now on the service answers 410 Gone for this subscription."""
        httpx.post(
            f"{self.base_url}/expire-subscription/{client_hash}"
        ).raise_for_status()
