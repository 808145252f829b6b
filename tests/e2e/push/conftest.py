"""A hub of its own for the push tests: web, one worker and Beat (the push sweep),
with a short PUSH_AFTER_SECS, a VAPID key, and a real push service."""

import pytest

from delivery import webpush
from tests.delivery.push_service import PushService
from tests.e2e.faults.conftest import session_worker_paused  # noqa: F401 (autouse)
from tests.support.stack import LiveHub, hub_env, start_worker

PUSH_AFTER_SECS = 2
# Short, so a push taken by a killed worker is taken again within the test.
PUSH_SEND_STALE_SECS = 3
PUSH_REQUEST_TIMEOUT_SECS = 1


@pytest.fixture(scope="package")
def push_service(tmp_path_factory):
    service = PushService(tmp_path_factory.mktemp("push") / "push-service.log")
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="package")
def vapid_pem() -> str:
    return webpush.new_private_key_pem()


@pytest.fixture(scope="package")
def push_hub(django_db_setup, django_db_blocker, tmp_path_factory, vapid_pem):
    hub = LiveHub(
        hub_env(
            PUSH_AFTER_SECS=str(PUSH_AFTER_SECS),
            PUSH_SEND_STALE_SECS=str(PUSH_SEND_STALE_SECS),
            PUSH_REQUEST_TIMEOUT_SECS=str(PUSH_REQUEST_TIMEOUT_SECS),
            WEBPUSH_VAPID_PRIVATE_KEY=vapid_pem,
            WEBPUSH_ALLOW_HTTP_ENDPOINTS="true",
            WEBPUSH_VAPID_SUBJECT="mailto:ops@example.com",
        ),
        tmp_path_factory.mktemp("push-hub"),
    )
    try:
        hub.start("web")
        hub.wait_web()
        start_worker(hub, "worker")
        hub.start("beat")
        yield hub
    finally:
        for name in list(hub.processes):
            hub.stop(name)
