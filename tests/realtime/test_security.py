"""The WebSocket security stack: origin, tickets, tokens, sessions, unknown paths."""

import logging

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from hub.asgi import application
from realtime.security import RedactTicketFilter, SocketSecurity
from realtime.tickets import ticket_issue
from tests.conftest import ORIGIN, communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def test_origin__other_site_refused_before_accept(alice):
    comm = communicator("/ws/notifications/", alice, origin=b"https://evil.example")

    ok, code = await comm.connect()

    assert not ok
    assert code == 1008


async def test_origin__allowed_host_accepted(alice):
    comm = communicator(
        "/ws/notifications/",
        alice,
        origin=b"http://localhost:8000",
        headers=[(b"host", b"localhost:8000")],
    )

    ok, _ = await comm.connect()

    assert ok
    assert (await comm.receive_json_from())["type"] == "hello"
    await comm.disconnect()


async def test_origin__absent_means_non_browser_and_must_authenticate():
    comm = communicator("/ws/notifications/", origin=None)
    await comm.connect()

    await comm.send_json_to({"type": "ping"})

    assert (await comm.receive_output(timeout=3))["code"] == 4401


async def test_token__invalid_token_closes_4401(alice):
    comm = communicator(
        "/ws/notifications/", headers=[(b"authorization", b"Token not-a-real-token")]
    )

    await comm.connect()

    assert (await comm.receive_output())["code"] == 4401


async def test_ticket__valid_once(alice):
    ticket = ticket_issue(user_id=alice.pk)

    first = communicator(f"/ws/notifications/?ticket={ticket}")
    await first.connect()
    hello = await first.receive_json_from()
    second = communicator(f"/ws/notifications/?ticket={ticket}")
    await second.connect()

    assert hello["user"]["username"] == "alice"
    assert (await second.receive_output())["code"] == 4401
    await first.disconnect()


async def test_ticket__expired_refused(alice, settings):
    from django.core.cache import cache

    ticket = ticket_issue(user_id=alice.pk)
    await cache.adelete(f"ws-ticket:{ticket}")  # what expiry does, without waiting

    comm = communicator(f"/ws/notifications/?ticket={ticket}")
    await comm.connect()

    assert (await comm.receive_output())["code"] == 4401


async def test_ticket__one_stored_as_a_bare_user_id_still_signs_in(alice):
    """What processes of the release before ticket fingerprints stored."""
    from django.core.cache import cache

    await cache.aset("ws-ticket:older-ticket", alice.pk, timeout=60)

    comm = communicator("/ws/notifications/?ticket=older-ticket")
    await comm.connect()

    assert (await comm.receive_json_from())["user"]["username"] == "alice"
    await comm.disconnect()


def test_ticket__stored_with_the_ttl(alice, settings):
    import redis
    from django.core.cache import cache

    ticket = ticket_issue(user_id=alice.pk)

    key = cache.make_key(f"ws-ticket:{ticket}")
    ttl = redis.Redis.from_url(settings.REDIS_URL).ttl(key)
    assert 0 < ttl <= settings.WS_TICKET_TTL_SECS == 60


def test_ticket_endpoint__needs_auth_and_returns_ticket(alice, api_client, client):
    assert client.post("/api/ws-ticket/").status_code in (401, 403)

    body = api_client(alice).post("/api/ws-ticket/").json()

    assert set(body) == {"ticket", "expires_in"}
    assert body["expires_in"] == 60


async def _scope_after_security(headers: list) -> dict:
    """The scope SocketSecurity hands the application below it."""
    seen = {}

    async def inner(scope, receive, send):
        seen.update(scope)

    scope = {"type": "websocket", "path": "/ws/notifications/", "headers": headers}
    await SocketSecurity(inner)(scope, None, None)
    return seen


async def test_security__a_token_sockets_scope_keeps_no_session_and_no_token(alice):
    from rest_framework.authtoken.models import Token

    key = alice.auth_token.key
    scope = await _scope_after_security(
        [(b"host", b"localhost"), (b"authorization", f"Token {key}".encode())]
    )

    assert scope["user"] == alice
    assert scope["credential_given"] is True
    assert "session" not in scope  # read only when the cookie is the credential
    # The user is kept for the socket's lifetime; the token row need not be.
    assert not Token.user.field.remote_field.is_cached(scope["user"])


async def test_security__a_cookie_without_origin_is_no_credential(alice):
    from asgiref.sync import sync_to_async

    client = Client()
    await sync_to_async(client.force_login)(alice)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    headers = [(b"host", b"localhost"), (b"cookie", cookie)]

    without = await _scope_after_security(headers)
    with_origin = await _scope_after_security([*headers, (b"origin", ORIGIN)])

    assert not without["user"].is_authenticated
    assert without["cookies"] == {}
    assert without["credential_given"] is False
    assert with_origin["user"] == alice
    assert with_origin["credential"][0] == "session"


async def test_session_cookie__logged_in_browser_connects(alice):
    from asgiref.sync import sync_to_async

    client = Client()
    await sync_to_async(client.force_login)(alice)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    comm = WebsocketCommunicator(
        application,
        "/ws/notifications/",
        headers=[
            (b"host", b"localhost"),
            (b"origin", b"http://localhost"),
            (b"cookie", cookie),
        ],
    )
    await comm.connect()

    assert (await comm.receive_json_from())["user"]["username"] == "alice"
    await comm.disconnect()


async def test_unknown_path__closes_4404(alice):
    comm = communicator("/ws/nothing-here/", alice)

    await comm.connect()

    assert (await comm.receive_output())["code"] == 4404


EMAIL_TOKEN = "MTI:1tQxYz:Qm9ndXMtc2lnbmF0dXJlLWJ1dC1hLXNlY3JldA"


@pytest.mark.parametrize(
    "path",
    [
        f"/email/unsubscribe/{EMAIL_TOKEN}/",
        f"/email/preferences/{EMAIL_TOKEN}/",
        f"/email/preferences/{EMAIL_TOKEN}",
        f"/ws/notifications/?ticket={EMAIL_TOKEN}&x=1",
    ],
)
def test_redact_filter__secrets_in_urls_never_reach_an_access_line(path):
    # uvicorn.access's record: client, method, path with query, version, status.
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )

    RedactTicketFilter().filter(record)

    line = record.getMessage()
    assert EMAIL_TOKEN not in line
    assert "[redacted]" in line


def test_redact_filter__a_message_with_the_path_inline_is_redacted():
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        f"Not Found: /email/unsubscribe/{EMAIL_TOKEN}/",
        None,
        None,
    )

    RedactTicketFilter().filter(record)

    assert record.getMessage() == "Not Found: /email/unsubscribe/[redacted]/"


async def test_handshake__not_held_behind_the_shared_database_thread(alice):
    """Sockets' writes share one thread (realtime.db.database_write). channels'
    AuthMiddleware read the session's user there too, so every handshake,
    with a session cookie or not, waited for the write in progress: in the
    soak's Redis outage each chat post held it for a failing publish, and a
    handshake took over 10 s instead of being refused with 1013 at once."""
    import asyncio
    import threading

    from asgiref.sync import sync_to_async
    from channels.db import database_sync_to_async

    browser = Client()
    await sync_to_async(browser.force_login)(alice)
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    released = threading.Event()
    shared_thread_busy = asyncio.ensure_future(
        database_sync_to_async(released.wait)(timeout=30)
    )
    try:
        by_token = communicator("/ws/notifications/", alice)
        by_session = communicator("/ws/notifications/", headers=[(b"cookie", cookie)])
        for comm in (by_token, by_session):
            assert (await comm.connect(timeout=5))[0]
            hello = await comm.receive_json_from(timeout=5)
            assert hello["user"]["username"] == "alice"
            await comm.disconnect()
        assert not shared_thread_busy.done()  # it was held all along
    finally:
        released.set()
        await shared_thread_busy
