"""The WebSocket security stack: origin check, then who the user is.

Credentials, first match wins: a ``?ticket=`` from ``POST /api/ws-ticket/``
(single use), an ``Authorization: Token <key>`` or ``Authorization: Bearer
<connection token>`` header (non-browser clients), then the Django session
cookie. A credential that is present but invalid leaves the user anonymous; it
never falls back to the cookie, and the consumer closes the socket with 4401
after accepting, so browsers can read the code. A handshake with no credential
at all is marked so, and the consumer waits for an ``auth`` frame
(realtime.consumers).

The Origin must be exactly (scheme, host and port) the handshake's own origin,
on a host of ALLOWED_HOSTS, or one of HUB_CORS_ALLOWED_ORIGINS, the product
sites that embed the bell. The session cookie counts only on a handshake that
carries an allowed Origin: every browser sends one, so a cookie without it
comes from a script replaying a stolen cookie, and such a socket stays
anonymous. Non-browser clients send no Origin and authenticate with a ticket or
a token. Tickets in URLs are redacted from uvicorn's log lines
(docs/SECURITY.md).
"""

import contextlib
import hashlib
import logging
import re
from importlib import import_module
from urllib.parse import parse_qs, urlparse

from channels.auth import get_user
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.http import parse_cookie
from django.http.request import split_domain_port

from hub import metrics
from realtime.db import database_read
from realtime.tickets import aticket_redeem

CLOSE_POLICY = 1008


class AllowedHostsOrigin(OriginValidator):
    """Refuse handshakes from any origin but the hub's own and the products'.

    Origins are compared exactly (scheme, host and port): the Origin must be
    the handshake's own origin (its scheme, and its Host header, whose host is
    in ALLOWED_HOSTS) or one of HUB_CORS_ALLOWED_ORIGINS. Neither list takes
    wildcards (hub/settings.py refuses to start with one): ``.example.com``
    would let a page on any subdomain open a socket with a visitor's cookie.

    A handshake without an Origin header comes from a non-browser client (every
    browser sends one), which cross-site request forgery cannot reach, so it
    passes and must still authenticate. :class:`SocketSecurity` applies this
    rule: a refused handshake gets close code 1008 before accept, which servers
    send as HTTP 403.
    """

    def __init__(self, application):
        super().__init__(application, allowed_origins=[])

    def valid_origin(self, parsed_origin, scope=None) -> bool:
        if parsed_origin is None:
            return True
        origin = _origin_of(parsed_origin)
        if origin in settings.HUB_CORS_ALLOWED_ORIGINS:
            return True
        own = _own_origin(scope or {})
        return own is not None and origin == own


_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _origin_of(parsed) -> str:
    """``scheme://host[:port]`` as browsers send it in Origin (default port
    left out), lower-cased; empty for what is not an http(s) origin."""
    scheme = parsed.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parsed.hostname:
        return ""
    netloc = parsed.netloc.lower().removesuffix(_DEFAULT_PORTS[scheme])
    return f"{scheme}://{netloc}"


def _own_origin(scope) -> str | None:
    """The origin of the page a same-site handshake comes from: the socket's
    scheme (wss is https; behind a proxy, its X-Forwarded-Proto when Django
    trusts it, DJANGO_HTTPS) and the Host header, if that host is allowed."""
    host = (_header(scope, b"host") or "").lower()
    domain, _port = split_domain_port(host)
    if not domain or domain not in [h.lower() for h in settings.ALLOWED_HOSTS]:
        return None
    secure = scope.get("scheme") == "wss" or (
        settings.SECURE_PROXY_SSL_HEADER is not None
        and _header(scope, b"x-forwarded-proto") == "https"
    )
    scheme = "https" if secure else "http"
    return f"{scheme}://{host.removesuffix(_DEFAULT_PORTS[scheme])}"


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


@database_read
def _user_by_id(user_id: int):
    try:
        return get_user_model().objects.get(pk=user_id, is_active=True)
    except get_user_model().DoesNotExist:
        return AnonymousUser()


@database_read
def _user_by_token(key: str):
    from hub.authentication import token_is_expired, token_lookup

    token = token_lookup(key)
    if token is None or not token.user.is_active or token_is_expired(token):
        return AnonymousUser()
    # A one-to-one caches each side on the other: the socket keeps its user for
    # its lifetime, and need not keep the token too (0.3 KiB per socket).
    type(token).user.field.remote_field.delete_cached_value(token.user)
    return token.user


class InvalidCredential(Exception):
    """A connection token the hub refuses; the message says why."""


@database_read
def _user_by_connection_token(token: str):
    from subscribers.services import subscriber_from_claims
    from subscribers.tokens import InvalidConnectionToken, connection_token_verify

    try:
        claims = connection_token_verify(token)
    except InvalidConnectionToken as exc:
        raise InvalidCredential(str(exc)) from exc
    user = subscriber_from_claims(claims)
    if not user.is_active:
        raise InvalidCredential("This subscriber has been forgotten.")
    return user, claims


async def connection_token_user(token: str) -> tuple:
    """The subscriber a connection token signs in, and its verified claims;
    :class:`InvalidCredential` if the token is refused."""
    return await _user_by_connection_token(token)


# What ticket_issue makes (secrets.token_urlsafe); anything else is not looked up.
_TICKET_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,128}")


class SocketSecurity(AllowedHostsOrigin):
    """The hub's WebSocket security stack in one middleware: the Origin check
    (:class:`AllowedHostsOrigin`'s rule), then who the user is.

    Sets, on one copy of the scope: ``scope["cookies"]`` (none without an
    Origin), ``scope["user"]`` (from a ticket, a token, else the session
    cookie, else ``AnonymousUser``), ``scope["session"]`` when the session
    cookie counts (read-only: a socket never saves one), and
    ``scope["credential_given"]`` when the handshake carries any credential;
    ``scope["token_claims"]`` for a connection token, whose expiry the
    consumer enforces, and ``scope["credential"]``: which sign-in the socket
    rests on, checked again when access changes (:func:`user_still_signed_in`).

    One layer, not channels' ``CookieMiddleware``, ``SessionMiddleware`` and
    ``AuthMiddleware`` stacked: each of those copies the scope and keeps it,
    and its coroutine, for the socket's lifetime (about 5 KiB per idle socket,
    docs/PERFORMANCE.md), and ``AuthMiddleware`` looked the session user up on
    channels' shared database thread even when a token then replaced it.
    channels' ``SessionMiddleware`` also wraps every outgoing frame to save a
    session it only saves on ``http.response.start``, which a socket never
    sends.
    """

    async def __call__(self, scope, receive, send):
        origin = _header(scope, b"origin")
        if not self.valid_origin(
            urlparse(origin) if origin is not None else None, scope
        ):
            metrics.SOCKETS_REFUSED.labels(code=str(CLOSE_POLICY)).inc()
            await receive()  # the websocket.connect message
            await send({"type": "websocket.close", "code": CLOSE_POLICY})
            return None
        scope = dict(scope)  # one copy, kept by the router below for the socket
        await _sign_in(scope, browser=origin is not None)
        inner = self.application(scope, receive, send)
        del scope  # the inner application's frame keeps it; this one need not
        return await inner


# channels' get_user, the function under its database_sync_to_async wrapper, run
# on the thread pool instead of channels' one thread that every socket's writes
# share: in a Redis outage each chat post held that thread for a failing
# publish, and a handshake with a session cookie waited over 10 s behind them
# instead of being refused with 1013 at once (docs/RELIABILITY.md, the soak).
# get_user may flush a session whose auth hash no longer matches (a password
# changed): that one write runs on the pool too.
_session_user = database_read(get_user.func)


async def _sign_in(scope: dict, *, browser: bool) -> None:
    """Set the user and the credential keys (see :class:`SocketSecurity`)."""
    cookies = {}
    if browser:  # without an Origin, the session cookie is not a credential
        header = _header(scope, b"cookie")
        if header is not None:
            cookies = parse_cookie(header)
    scope["cookies"] = cookies
    session_key = cookies.get(settings.SESSION_COOKIE_NAME)
    # Blank values kept: "?ticket=" is a (bad) ticket, not a missing one.
    query = parse_qs(
        scope.get("query_string", b"").decode("latin1"), keep_blank_values=True
    )
    authorization = _header(scope, b"authorization")
    if "ticket" in query:
        ticket = query["ticket"][0]
        redeemed = None
        if _TICKET_SHAPE.fullmatch(ticket):
            redeemed = await aticket_redeem(ticket)
        scope["user"] = (
            await _user_by_id(redeemed["user_id"]) if redeemed else AnonymousUser()
        )
        # The socket ends with the sign-in that asked for the ticket.
        scope["credential"] = (TICKET, None)
        scope["credential_fingerprint"] = redeemed and redeemed["credential"]
    elif authorization is not None:
        scheme, _, key = authorization.partition(" ")
        user, claims, credential = AnonymousUser(), None, None
        if scheme.lower() == "token" and key.strip():
            user = await _user_by_token(key.strip())
            credential = (API_TOKEN, key.strip())
        elif scheme.lower() == "bearer" and key.strip():
            with contextlib.suppress(InvalidCredential):
                user, claims = await connection_token_user(key.strip())
            credential = (CONNECTION_TOKEN, None)
        scope["user"] = user
        scope["token_claims"] = claims
        scope["credential"] = credential
    elif session_key is not None:
        store = import_module(settings.SESSION_ENGINE).SessionStore
        scope["session"] = store(session_key)
        scope["user"] = await _session_user(scope)
        scope["credential"] = (SESSION, scope["session"].session_key)
    else:
        scope["user"] = AnonymousUser()
    scope["credential_given"] = (
        "ticket" in query or authorization is not None or session_key is not None
    )


# --- Revocation: what an open socket rests on, checked again --------------------
# ``scope["credential"]`` is (kind, secret): the secret names one sign-in that
# can end on its own (a session, an API token), which is looked up again. A
# ticket's socket carries the fingerprint of the sign-in that asked for the
# ticket (``scope["credential_fingerprint"]``) and otherwise rests on its user,
# as a connection token's does (such a token cannot be ended alone; it expires).
SESSION = "session"
API_TOKEN = "token"  # noqa: S105 (a kind's name, not a secret)
TICKET = "ticket"
CONNECTION_TOKEN = "bearer"  # noqa: S105


def credential_fingerprint(kind: str, secret: str) -> str:
    """What names one sign-in on the channel layer: a hash, never the secret."""
    return hashlib.sha256(f"{kind}:{secret}".encode()).hexdigest()[:32]


def scope_fingerprint(scope) -> str | None:
    """The fingerprint of the sign-in a socket rests on, if it can end alone
    (for a ticket's socket: the sign-in that asked for the ticket)."""
    if scope.get("credential_fingerprint"):
        return scope["credential_fingerprint"]
    kind, secret = scope.get("credential") or (None, None)
    return credential_fingerprint(kind, secret) if secret else None


def request_fingerprint(request) -> str | None:
    """The fingerprint of the sign-in of an HTTP request (DRF), if it can end
    alone: its API token, or its session."""
    from rest_framework.authtoken.models import Token

    if isinstance(request.auth, Token):
        return credential_fingerprint(API_TOKEN, request.auth.key)
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if request.auth is None and session_key:
        return credential_fingerprint(SESSION, session_key)
    return None


async def user_still_signed_in(scope, user_id: int):
    """The socket's user as the database has it now, or None if the socket's
    sign-in no longer holds: the user deleted or deactivated, its session ended
    or invalidated (a password change), its API token deleted."""
    kind, secret = scope.get("credential") or (None, None)
    if kind == SESSION:
        store = import_module(settings.SESSION_ENGINE).SessionStore
        user = await _session_user({"session": store(secret)})
    elif kind == API_TOKEN:
        user = await _user_by_token(secret)
    else:
        user = await _user_by_id(user_id)
    return user if user.is_authenticated and user.pk == user_id else None


# Secrets that travel in URLs: a socket ticket in a query string, and the
# signed token of an email link (emails/urls.py) in a path.
_SECRET_IN_URL = re.compile(
    r"(?<=[?&]ticket=)[^&\s\"]*"
    r"|(?<=/email/unsubscribe/)[^/?\s\"]+"
    r"|(?<=/email/preferences/)[^/?\s\"]+"
)
REDACTED = "[redacted]"


def _redact(text: str) -> str:
    return _SECRET_IN_URL.sub(REDACTED, text)


class RedactTicketFilter(logging.Filter):
    """Blank out secrets in URLs (``ticket=`` values, email-link tokens) in a
    log record's message and arguments.

    uvicorn logs each WebSocket handshake with its query string (on
    ``uvicorn.error``: ``"WebSocket /ws/notifications/?ticket=..." [accepted]``)
    and each HTTP request on ``uvicorn.access``; Django logs refused requests'
    paths on ``django.request``. A ticket is single use and lives 60 s, and an
    email link's token signs its holder into that user's email preferences for
    30 days (unsubscribe links for ever); a log outlives both and is read by
    more people, so neither is written. Tokens travel in headers, which uvicorn
    does not log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                _redact(a) if isinstance(a, str) else a for a in record.args
            )
        return True


def install_log_redaction() -> None:
    """Put :class:`RedactTicketFilter` on the loggers that write URLs."""
    for name in ("uvicorn.error", "uvicorn.access", "django.request"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTicketFilter) for f in logger.filters):
            logger.addFilter(RedactTicketFilter())


def secure(application):
    """Wrap a WebSocket router in the hub's origin and authentication checks."""
    install_log_redaction()
    return SocketSecurity(application)
