"""A short real soak (tools/soak.py): a few hundred sockets of mixed traffic
for 20 s, the soak's own Redis killed 8 s in and started again 3 s later.

Nothing lost, nothing duplicated, no error before or after the outage, and the
restart happened; what was refused while Redis was down is reported apart.
The soak starts its own redis-server, web, worker and beat, on its own
database: SQLite under the test's directory, or, when the test run is on
PostgreSQL, a database beside the test database (flushed by the soak).
"""

import json
import os
import subprocess
import sys

import pytest

from tests.support.stack import BASE_DIR, database_url

SOAK_TIMEOUT_SECS = 120  # it takes ~35 s; a stuck soak fails, not hangs


@pytest.fixture
def soak_database(db) -> str | None:
    url = database_url()
    return None if url.startswith("sqlite") else url + "_soak"


def test_soak__redis_restarted_midway__nothing_lost_nothing_twice(
    tmp_path, soak_database
):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SOAK_", "DATABASE_URL", "REDIS_URL", "CELERY_"))
    }
    env.update(
        SOAK_VAR_DIR=str(tmp_path),
        SOAK_SECS="20",
        SOAK_SOCKETS="200",
        SOAK_CHAT_SOCKETS="20",
        SOAK_CHAT_ROOMS="2",
        SOAK_CHAT_EVERY_SECS="5",
        SOAK_WARMUP_SECS="0",
        SOAK_REDIS_RESTART_AT_SECS="8",
        SOAK_REDIS_DOWN_SECS="3",
    )
    if soak_database:
        env["DATABASE_URL"] = soak_database

    run = subprocess.run(
        [sys.executable, "-m", "tools.soak"],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=SOAK_TIMEOUT_SECS,
    )

    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    report = json.loads((tmp_path / "soak-report.json").read_text())
    assert report["failed"] == []
    assert report["redis"]["restarted"]
    assert report["redis"]["down_secs"] >= 3
    assert report["lost"] == 0
    assert report["duplicated"] == 0
    assert report["notifications_stored_for_sockets"] > 0
    assert report["errors_by_phase"]["before"] == {}
    assert report["errors_by_phase"]["after"] == {}
    # A (re)connect while Redis was down was refused with 1013 (try again
    # later) and came back after it; nothing else went wrong meanwhile.
    during = report["errors_by_phase"]["during"]
    assert set(during) <= {"connect closed 1013"}, during
    # The outage's end is marked once redis.start() has returned, a moment
    # after Redis answers: a socket quick to come back counts as "during".
    recovered = report["recoveries_by_phase"]
    assert (recovered["during"] + recovered["after"] > 0) == bool(during), recovered
    assert report["reconnects"] > 0
    chat = report["chat_by_phase"]
    for phase in ("before", "after"):
        assert chat[phase]["received"] == chat[phase]["expected"] > 0, chat
    assert report["chat_duplicates"] == 0
