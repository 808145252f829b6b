"""Fixtures for the delivery tests: a real push service, a VAPID key pair, and
browsers (emulated subscriptions) registered through the API."""

import pytest

from delivery import webpush
from tests.conftest import api_client_for
from tests.delivery.push_service import PushService


@pytest.fixture(scope="session")
def push_service(tmp_path_factory):
    service = PushService(tmp_path_factory.mktemp("push") / "push-service.log")
    service.start()
    yield service
    service.stop()


@pytest.fixture
def vapid(settings):
    """A fresh VAPID key pair, and http:// endpoints allowed (the local service)."""
    settings.WEBPUSH_VAPID_PRIVATE_KEY = webpush.new_private_key_pem()
    settings.WEBPUSH_ALLOW_HTTP_ENDPOINTS = True
    settings.WEBPUSH_VAPID_SUBJECT = "mailto:ops@example.com"
    return webpush.public_key()


@pytest.fixture
def browser_of(push_service, vapid):
    """``browser_of(user)``: a subscription made at the push service with the
    hub's key and registered with POST /api/push/subscriptions/."""

    def subscribe(user) -> dict:
        subscription = push_service.subscribe(vapid)
        response = api_client_for(user).post(
            "/api/push/subscriptions/",
            {"endpoint": subscription["endpoint"], "keys": subscription["keys"]},
            format="json",
        )
        assert response.status_code == 201, response.content
        return subscription

    return subscribe
