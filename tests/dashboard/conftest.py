"""Dashboard fixtures: every test starts with no dashboard keys in Redis."""

import pytest

from dashboard import telemetry


def clear_dashboard_keys() -> None:
    conn = telemetry.client()
    keys = list(conn.scan_iter(f"{telemetry.prefix()}:*"))
    if keys:
        conn.delete(*keys)


@pytest.fixture(autouse=True)
def clean_dashboard():
    clear_dashboard_keys()
    yield
    clear_dashboard_keys()
