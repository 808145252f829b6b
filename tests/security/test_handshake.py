"""WebSocket handshakes: cross-site refused, cookies only from browsers, tickets
single use and expiring."""

import asyncio

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

from realtime.tickets import ticket_issue
from tests.conftest import communicator

pytestmark = pytest.mark.django_db(transaction=True)

PATHS = ["/ws/notifications/", "/ws/chat/lobby/"]
FOREIGN_ORIGINS = [
    b"https://evil.example",
    b"http://localhost.evil.example",
    b"http://127.0.0.1.evil.example:8000",
    b"http://evil.example#@localhost",
    b"null",
    b"file://",
    b"not a url",
]


async def first_message(comm) -> dict:
    """The socket's first frame, or its close message."""
    ok, code = await comm.connect()
    if not ok:
        return {"type": "websocket.close", "code": code}
    return await comm.receive_output(timeout=3)


def accepted(message: dict) -> bool:
    return message["type"] == "websocket.send"


async def session_cookie(username: str) -> bytes:
    client = Client()
    user = await sync_to_async(get_user_model().objects.get)(username=username)
    await sync_to_async(client.force_login)(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("origin", FOREIGN_ORIGINS, ids=lambda o: o.decode())
async def test_origin__other_site_refused_1008_even_with_a_token(alice, path, origin):
    comm = communicator(path, alice, origin=origin)

    message = await first_message(comm)

    assert (message["type"], message["code"]) == ("websocket.close", 1008)


@pytest.mark.parametrize("path", PATHS)
async def test_origin__other_site_with_the_session_cookie_refused(alice, path):
    cookie = await session_cookie("alice")
    comm = communicator(
        path, origin=b"https://evil.example", headers=[(b"cookie", cookie)]
    )

    assert (await first_message(comm))["code"] == 1008


@pytest.mark.parametrize("path", PATHS)
async def test_origin__allowed_site_with_the_session_cookie_connects(alice, path):
    cookie = await session_cookie("alice")
    comm = communicator(path, headers=[(b"cookie", cookie)])

    assert accepted(await first_message(comm))
    await comm.disconnect()


@pytest.mark.parametrize("path", PATHS)
async def test_origin__absent_with_only_the_session_cookie_closes_4401(alice, path):
    """Browsers always send Origin: a cookie without one is a replayed cookie."""
    cookie = await session_cookie("alice")
    comm = communicator(path, origin=None, headers=[(b"cookie", cookie)])
    assert (await comm.connect())[0]  # as a handshake with no credential

    await comm.send_json_to({"type": "ping"})  # not signed in: only `auth` counts

    message = await comm.receive_output(timeout=3)
    assert (message["type"], message["code"]) == ("websocket.close", 4401)


@pytest.mark.parametrize("path", PATHS)
async def test_origin__absent_with_a_token_connects(alice, path):
    comm = communicator(path, alice, origin=None)

    assert accepted(await first_message(comm))
    await comm.disconnect()


@pytest.mark.parametrize("path", PATHS)
async def test_origin__absent_with_a_ticket_connects(alice, path):
    ticket = await database_sync_to_async(ticket_issue)(user_id=alice.pk)
    comm = communicator(f"{path}?ticket={ticket}", origin=None)

    assert accepted(await first_message(comm))
    await comm.disconnect()


# --- tickets --------------------------------------------------------------------


def expire_now(ticket: str) -> None:
    """Move the stored ticket's expiry into the past: what 60 s of waiting does."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = cache.make_key(f"ws-ticket:{ticket}")
    assert client.pexpireat(key, 1)  # 1 ms after the epoch
    client.close()


async def test_ticket__valid_until_it_expires(alice):
    fresh = await database_sync_to_async(ticket_issue)(user_id=alice.pk)
    stale = await database_sync_to_async(ticket_issue)(user_id=alice.pk)
    await sync_to_async(expire_now)(stale)

    ok = await first_message(communicator(f"/ws/notifications/?ticket={fresh}"))
    refused = await first_message(communicator(f"/ws/notifications/?ticket={stale}"))

    assert accepted(ok)
    assert refused["code"] == 4401


async def test_ticket__single_use_across_paths(alice):
    ticket = await database_sync_to_async(ticket_issue)(user_id=alice.pk)
    first = communicator(f"/ws/notifications/?ticket={ticket}")
    assert accepted(await first_message(first))

    again = await first_message(communicator(f"/ws/chat/lobby/?ticket={ticket}"))

    assert again["code"] == 4401
    await first.disconnect()


async def test_ticket__two_racing_redemptions_admit_one(alice):
    ticket = await database_sync_to_async(ticket_issue)(user_id=alice.pk)
    comms = [communicator(f"/ws/notifications/?ticket={ticket}") for _ in range(2)]

    messages = await asyncio.gather(*(first_message(c) for c in comms))

    assert sorted(accepted(m) for m in messages) == [False, True]
    for comm, message in zip(comms, messages, strict=True):
        if accepted(message):
            await comm.disconnect()


async def test_ticket__of_a_deactivated_user_closes_4401(alice):
    ticket = await database_sync_to_async(ticket_issue)(user_id=alice.pk)
    alice.is_active = False
    await database_sync_to_async(alice.save)()

    message = await first_message(communicator(f"/ws/notifications/?ticket={ticket}"))

    assert message["code"] == 4401


@pytest.mark.parametrize(
    "ticket", ["", "x", "a" * 129, "%00", "ticket-that-was-never-issued"]
)
async def test_ticket__unknown_or_malformed_closes_4401(alice, ticket):
    cookie = await session_cookie("alice")
    comm = communicator(
        f"/ws/notifications/?ticket={ticket}", headers=[(b"cookie", cookie)]
    )

    message = await first_message(comm)

    assert message["code"] == 4401  # never falls back to the cookie


def test_ticket_endpoint__issues_single_use_ticket_for_sixty_seconds(world, api_client):
    client = api_client(world.users["alice"])

    first = client.post("/api/ws-ticket/").json()
    second = client.post("/api/ws-ticket/").json()

    assert first["expires_in"] == 60
    assert first["ticket"] != second["ticket"]
    assert len(first["ticket"]) >= 32


async def _verdict(user, origin: bytes, host: bytes, *, scheme="ws", headers=()):
    """The close code of the user's handshake from ``origin``, or "accepted"."""
    comm = communicator(
        "/ws/notifications/", user, origin=origin, headers=[(b"host", host), *headers]
    )
    comm.scope["scheme"] = scheme
    message = await first_message(comm)
    if accepted(message):
        await comm.disconnect()
        return "accepted"
    return message["code"]


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        # Another port of the same host is another origin (another app).
        (b"http://localhost:8001", b"localhost:8000", "ws"),
        (b"http://localhost", b"localhost:8000", "ws"),
        # A page over plain HTTP must not drive a socket of the HTTPS site.
        (b"http://localhost", b"localhost", "wss"),
        # Another allowed host is another site.
        (b"http://127.0.0.1", b"localhost", "ws"),
        # A subdomain of an allowed host.
        (b"http://app.localhost", b"localhost", "ws"),
        # A host the hub does not serve, even when Origin and Host agree.
        (b"http://evil.example", b"evil.example", "ws"),
    ],
)
async def test_origin__compared_exactly_scheme_host_and_port(
    alice, origin, host, scheme
):
    assert await _verdict(alice, origin, host, scheme=scheme) == 1008


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        (b"http://localhost:8000", b"localhost:8000", "ws"),
        (b"https://localhost", b"localhost", "wss"),
        (b"https://localhost", b"localhost:443", "wss"),
        (b"HTTP://LOCALHOST", b"LocalHost", "ws"),
    ],
)
async def test_origin__the_hubs_own_origin_is_accepted(alice, origin, host, scheme):
    assert await _verdict(alice, origin, host, scheme=scheme) == "accepted"


async def test_origin__behind_a_trusted_tls_proxy_is_https(alice, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = [(b"x-forwarded-proto", b"https")]

    https = await _verdict(alice, b"https://localhost", b"localhost", headers=proxied)
    http = await _verdict(alice, b"http://localhost", b"localhost", headers=proxied)

    assert (https, http) == ("accepted", 1008)


async def test_origin__forwarded_proto_is_ignored_unless_trusted(alice, settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    proxied = [(b"x-forwarded-proto", b"https")]

    https = await _verdict(alice, b"https://localhost", b"localhost", headers=proxied)

    assert https == 1008
