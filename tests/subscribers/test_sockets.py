"""Sockets signed in by connection tokens: the `auth` frame, `Bearer` on the
handshake, refresh without reconnecting, expiry, and the product's origin."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from hub.asgi import application
from notifications import services
from realtime import security
from subscribers.models import Scope
from subscribers.services import subscribers_ensure
from tests.conftest import receive_until
from tests.subscribers.conftest import claims_for, hs256, key_client

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("jwt_secret", "consumer_loop"),
]

PRODUCT_ORIGIN = "http://localhost:8001"


def socket(*, origin: str | None = PRODUCT_ORIGIN, headers=()) -> WebsocketCommunicator:
    all_headers = list(headers)
    if origin is not None:
        all_headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, "/ws/notifications/", all_headers)


@pytest.fixture(autouse=True)
def product_origin(settings):
    """The hub at hub.example; the product's site allowed by HUB_CORS_ALLOWED_ORIGINS
    only."""
    settings.ALLOWED_HOSTS = ["hub.example"]
    settings.HUB_CORS_ALLOWED_ORIGINS = [PRODUCT_ORIGIN]


async def signed_in(sub: str, **claims) -> tuple[WebsocketCommunicator, dict]:
    comm = socket()
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "auth", "token": hs256(claims_for(sub, **claims))})
    return comm, await receive_until(comm, "hello")


async def closed_code(comm) -> int:
    message = await comm.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    return message["code"]


async def test_auth_frame__signs_the_subscriber_in_and_says_hello():
    comm, hello = await signed_in("acme:42", name="Ada Lovelace")

    assert hello["user"]["username"]
    assert hello["unread"] == 0
    await comm.disconnect()


async def test_auth_frame__in_time_signs_in_however_long_the_sign_in_takes(
    settings, monkeypatch
):
    """The auth deadline is the client's: an auth frame that came before it is
    not cut off while its token is checked (a connect storm queues the checks)."""
    settings.WS_AUTH_TIMEOUT_SECS = 0.05
    check_token = security.connection_token_user

    async def slower_than_the_deadline(token):
        await asyncio.sleep(settings.WS_AUTH_TIMEOUT_SECS * 4)
        return await check_token(token)

    monkeypatch.setattr(security, "connection_token_user", slower_than_the_deadline)

    comm, hello = await signed_in("acme:42")

    assert hello["type"] == "hello"
    await comm.disconnect()


async def test_auth_frame__the_subscriber_gets_what_is_sent_by_external_id():
    comm, _ = await signed_in("acme:42")

    @database_sync_to_async
    def notify():
        user_id = subscribers_ensure(external_ids=["acme:42"])["acme:42"]
        services.notify(recipients=[user_id], title="Your order shipped")

    await notify()

    frame = await receive_until(comm, "notification")
    assert frame["notification"]["title"] == "Your order shipped"
    await comm.disconnect()


async def test_auth_frame__a_token_signed_with_another_key_closes_4401():
    comm = socket()
    await comm.connect()

    forged = hs256(claims_for("acme:42"), secret="another-secret-" + "x" * 40)
    await comm.send_json_to({"type": "auth", "token": forged})

    assert await closed_code(comm) == 4401


async def test_auth_frame__an_expired_token_closes_4401():
    comm = socket()
    await comm.connect()

    await comm.send_json_to(
        {"type": "auth", "token": hs256(claims_for("a", ttl_secs=-5))}
    )

    assert await closed_code(comm) == 4401


async def test_auth_frame__a_newer_token_for_the_same_subscriber_extends_the_socket():
    comm, _ = await signed_in("acme:42", ttl_secs=60)
    newer = claims_for("acme:42", ttl_secs=600)

    await comm.send_json_to({"type": "auth", "token": hs256(newer)})

    assert await receive_until(comm, "auth_ok") == {
        "type": "auth_ok",
        "expires_at": newer["exp"],
    }
    await comm.send_json_to({"type": "ping"})
    assert await receive_until(comm, "pong") == {"type": "pong"}
    await comm.disconnect()


async def test_auth_frame__a_token_for_another_subscriber_is_refused_when_open():
    comm, _ = await signed_in("acme:42")

    await comm.send_json_to({"type": "auth", "token": hs256(claims_for("acme:43"))})

    error = await receive_until(comm, "error")
    assert error["code"] == "forbidden"
    await comm.send_json_to({"type": "ping"})  # still open, still acme:42's
    assert await receive_until(comm, "pong") == {"type": "pong"}
    await comm.disconnect()


# Tokens of these tests live 2 s: exp is whole seconds, so 1 s could be gone
# before the hello on a loaded machine.


async def test_expiry__a_socket_whose_token_runs_out_is_closed_4401(settings):
    settings.WS_AUTH_TIMEOUT_SECS = 30  # only the token's expiry can close it in time
    comm, _ = await signed_in("acme:42", ttl_secs=2)

    assert await closed_code(comm) == 4401


async def test_expiry__a_refreshed_token_keeps_the_socket_past_the_first_expiry():
    comm, _ = await signed_in("acme:42", ttl_secs=2)
    await comm.send_json_to({"type": "auth", "token": hs256(claims_for("acme:42"))})
    await receive_until(comm, "auth_ok")

    # Past the first token's expiry, the socket still answers.
    assert await comm.receive_nothing(timeout=2.5)
    await comm.send_json_to({"type": "ping"})
    assert await receive_until(comm, "pong") == {"type": "pong"}
    await comm.disconnect()


async def test_bearer__on_the_handshake_signs_a_non_browser_client_in():
    token = hs256(claims_for("acme:42"))
    comm = socket(origin=None, headers=[(b"authorization", f"Bearer {token}".encode())])

    assert (await comm.connect())[0]
    assert (await receive_until(comm, "hello"))["type"] == "hello"
    await comm.disconnect()


async def test_bearer__a_refused_token_on_the_handshake_closes_4401_at_once():
    token = hs256(claims_for("acme:42", aud="not-the-hub"))
    comm = socket(origin=None, headers=[(b"authorization", f"Bearer {token}".encode())])
    await comm.connect()

    assert await closed_code(comm) == 4401


async def test_bearer__a_token_in_the_url_is_not_a_credential():
    token = hs256(claims_for("acme:42"))
    comm = WebsocketCommunicator(
        application,
        f"/ws/notifications/?token={token}",
        [(b"origin", PRODUCT_ORIGIN.encode())],
    )
    await comm.connect()

    await comm.send_json_to({"type": "ping"})  # not signed in: only `auth` counts

    assert await closed_code(comm) == 4401


async def test_origin__an_allowed_product_origin_may_open_a_socket():
    comm = socket(origin=PRODUCT_ORIGIN)

    assert (await comm.connect())[0]
    await comm.disconnect()


async def test_origin__a_site_not_in_the_allowed_origins_is_refused(settings):
    settings.HUB_CORS_ALLOWED_ORIGINS = []

    assert await socket(origin=PRODUCT_ORIGIN).connect() == (False, 1008)


async def test_origin__the_same_host_on_another_port_is_another_origin():
    assert await socket(origin="http://localhost:8002").connect() == (False, 1008)


async def test_origin__another_scheme_is_another_origin():
    assert await socket(origin="https://localhost:8001").connect() == (False, 1008)


async def test_auth_frame__signs_a_chat_socket_in_too():
    comm = WebsocketCommunicator(
        application, "/ws/chat/lobby/", [(b"origin", PRODUCT_ORIGIN.encode())]
    )
    assert (await comm.connect())[0]

    await comm.send_json_to({"type": "auth", "token": hs256(claims_for("acme:42"))})

    assert (await receive_until(comm, "history"))["messages"] == []
    await comm.send_json_to({"message": "hello from the product"})
    frame = await receive_until(comm, "chat.message")
    assert frame["message"] == "hello from the product"
    await comm.disconnect()


async def test_forgotten__the_subscribers_open_sockets_close_4401(make_key):
    by_frame, _ = await signed_in("acme:42")
    by_header = socket(
        headers=[(b"authorization", f"Bearer {hs256(claims_for('acme:42'))}".encode())]
    )
    assert (await by_header.connect())[0]
    await receive_until(by_header, "hello")
    product = key_client(await database_sync_to_async(make_key)(Scope.SUBSCRIBERS))

    response = await database_sync_to_async(product.delete)(
        "/api/subscribers/acme:42/", HTTP_HOST="hub.example"
    )

    assert response.status_code == 204
    assert await closed_code(by_frame) == 4401
    assert await closed_code(by_header) == 4401
