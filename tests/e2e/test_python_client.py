"""hub_client against the running hub, as a product's back end uses it: sync, async."""

import io
import time

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from hub_client import (
    AsyncHubClient,
    HubAuthenticationError,
    HubClient,
    HubNotFoundError,
    HubPermissionError,
    HubValidationError,
)

from notifications.models import Subscription, Topic
from tests.e2e.test_live_stack import open_socket, recv

pytestmark = pytest.mark.django_db(transaction=True)

JWT_SECRET = "client-e2e-secret-long-enough-for-hs256-0123456789"
FEED_TIMEOUT_SECS = 30.0


@pytest.fixture(scope="module")
def hub_url(live_hub):
    """A web process of the live hub that holds HUB_JWT_SECRET, so it verifies the
    tokens the client signs and mints its own (the package's web has no secret)."""
    base_url = live_hub.start_web("web-client", HUB_JWT_SECRET=JWT_SECRET)
    yield base_url
    live_hub.stop("web-client")


def api_key(scopes: str) -> str:
    """A key made as the product's operator makes one: the command's last line."""
    out = io.StringIO()
    call_command(
        "hub_api_key", "create", f"shop-{scopes}", "--scopes", scopes, stdout=out
    )
    return out.getvalue().strip().splitlines()[-1]


def feed(hub_url: str, token: str) -> httpx.Response:
    """The subscriber's own feed, read with their connection token."""
    return httpx.get(
        hub_url + "/api/notifications/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def wait_feed(hub_url: str, token: str, title: str) -> list[dict]:
    """The feed's notifications titled ``title``, once there is one."""
    deadline = time.monotonic() + FEED_TIMEOUT_SECS
    while time.monotonic() < deadline:
        found = [
            n for n in feed(hub_url, token).json()["results"] if n["title"] == title
        ]
        if found:
            return found
        time.sleep(0.05)  # polling an HTTP resource, not synchronising threads
    raise TimeoutError(f"{title!r} never reached the feed")


def test_hub_client__identify_notify_token_forget(hub_url):
    key = api_key("notify,subscribers,tokens")
    with (
        HubClient(hub_url, key, jwt_secret=JWT_SECRET) as signing,
        HubClient(hub_url, key) as asking,
    ):
        ada = signing.identify("shop:ada", email="ada@example.com", name="Ada")
        assert (ada["external_id"], ada["email"]) == ("shop:ada", "ada@example.com")
        assert signing.get_subscriber("shop:ada")["name"] == "Ada"

        sent = signing.notify(
            ["shop:ada", "shop:new"], "Order shipped", body="#1001", url="/orders/1"
        )

        assert sent == {"created": 2}
        assert signing.get_subscriber("shop:new")["external_id"] == "shop:new"
        signed_here = signing.connection_token("shop:ada", ttl_secs=300)
        minted_by_hub = asking.connection_token("shop:ada", ttl_secs=300)
        for token in (signed_here, minted_by_hub):
            [item] = feed(hub_url, token).json()["results"]
            assert (item["title"], item["body"]) == ("Order shipped", "#1001")

        signing.forget("shop:ada")

        with pytest.raises(HubNotFoundError):
            signing.get_subscriber("shop:ada")
        # A token still valid signs in a new, empty subscriber: nothing is left.
        assert feed(hub_url, signed_here).json()["results"] == []


def test_hub_client__broadcast_repeated_with_its_key_is_sent_once(hub_url):
    Topic.objects.create(slug="orders", name="Orders")
    key = api_key("broadcast,subscribers")
    with HubClient(hub_url, key, jwt_secret=JWT_SECRET) as hub:
        hub.identify("shop:bo", topics=["orders"])

        first = hub.broadcast("orders", "Sale", idempotency_key="sale-2026-12")
        again = hub.broadcast("orders", "Sale", idempotency_key="sale-2026-12")

        assert again["id"] == first["id"]
        token = hub.connection_token("shop:bo")
    assert len(wait_feed(hub_url, token, "Sale")) == 1


async def test_hub_client__topic_event_reaches_a_followers_socket(
    live_hub, hub_url, alice
):
    topic = await sync_to_async(Topic.objects.create)(slug="stock", name="Stock")
    await sync_to_async(Subscription.objects.create)(user=alice, topic=topic)
    key = await sync_to_async(api_key)("broadcast")
    ws, _ = await open_socket(live_hub, alice)

    async with AsyncHubClient(hub_url, key) as hub:
        await hub.topic_event("stock", {"sku": "A1", "left": 3})

    frame = await recv(ws)
    assert frame == {
        "type": "event",
        "topic": "stock",
        "event": {"sku": "A1", "left": 3},
    }
    await ws.close()


def test_hub_client__refusals_are_typed_errors(hub_url):
    key = api_key("subscribers")
    with HubClient(hub_url, key) as hub, HubClient(hub_url, "no-such-key") as stranger:
        with pytest.raises(HubPermissionError):
            hub.notify(["shop:ada"], "Hi")
        with pytest.raises((HubAuthenticationError, HubPermissionError)):
            stranger.get_subscriber("shop:ada")
        with pytest.raises(HubValidationError) as caught:
            hub.identify("shop:ada", email="not an email")
    assert "email" in caught.value.body


async def test_async_hub_client__identify_notify_token_forget(hub_url):
    key = await sync_to_async(api_key)("notify,subscribers,tokens")
    async with AsyncHubClient(hub_url, key) as hub:
        await hub.identify("shop:cy", name="Cy")
        assert await hub.notify("shop:cy", "Ticket answered") == {"created": 1}
        token = await hub.connection_token("shop:cy", ttl_secs=300)

        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.get(
                hub_url + "/api/notifications/unread-count/",
                headers={"Authorization": f"Bearer {token}"},
            )
        assert answer.json() == {"unread": 1}

        await hub.forget("shop:cy")
        with pytest.raises(HubNotFoundError):
            await hub.get_subscriber("shop:cy")
