"""Fixtures of the live security tests: the web process's log, read as it grows."""

import time
from pathlib import Path

import pytest

LOG_WAIT_SECS = 10.0


class WebLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def text(self) -> str:
        return self.path.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float = LOG_WAIT_SECS) -> str:
        """The log once it contains ``needle`` (uvicorn writes lines as it goes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if needle in text:
                return text
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} never reached {self.path}")


@pytest.fixture
def web_log(live_hub) -> WebLog:
    return WebLog(live_hub.log_dir / "web.log")
