"""The dashboard on real processes: the session's web + worker, plus Beat (the
Procfile's command) and a second web process started after ``collectstatic``.

Tests run with DEBUG off, where WhiteNoise serves what ``collectstatic`` (the
Procfile's release step) gathered into STATIC_ROOT, scanned when a web process
starts: so the static files are collected first, then ``dashboard-web`` starts.
"""

import subprocess
import sys

import pytest

from tests.support.stack import BASE_DIR, LiveHub

COLLECTSTATIC_TIMEOUT_SECS = 60


@pytest.fixture(scope="module")
def dashboard_hub(live_hub: LiveHub):
    """``live_hub`` with Beat running and a second web; yields that web's base URL."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        env=live_hub.env,
        cwd=BASE_DIR,
        check=True,
        timeout=COLLECTSTATIC_TIMEOUT_SECS,
    )
    live_hub.start("beat")
    try:
        second_web = live_hub.start_web("dashboard-web")
        yield second_web
    finally:
        for name in ("beat", "dashboard-web"):
            if name in live_hub.processes:
                live_hub.stop(name)
