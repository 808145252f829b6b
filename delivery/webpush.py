"""The hub's one door to push services: VAPID keys, payloads, and one send.

Encryption (RFC 8291, aes128gcm) and the VAPID JWT (RFC 8292) are pywebpush's;
this module picks the headers (TTL and Urgency from the notification's level,
Topic so a repeated push of one notification replaces an undelivered one) and
turns the push service's answer into one of three declared outcomes.
"""

import base64
import json
import threading
from dataclasses import dataclass

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

# Push services accept at most 4096 bytes of encrypted body (RFC 8291 s4); the
# aes128gcm header, tag and padding delimiter take 103, and the JSON some slack.
PAYLOAD_MAX_BYTES = 3800
# Per level: (Urgency header, TTL in seconds the push service keeps it for an
# offline device). Errors wake a phone and wait a day; the rest can wait less.
URGENCY_AND_TTL_SECS = {
    "error": ("high", 24 * 3600),
    "warning": ("normal", 24 * 3600),
    "success": ("low", 3600),
    "info": ("normal", 3600),
}
# Most seconds a Retry-After header may make us wait; a longer one is capped.
RETRY_AFTER_MAX_SECS = 3600


class PushError(Exception):
    """A push that did not reach the push service's queue."""


class SubscriptionGone(PushError):
    """404 or 410: the browser unsubscribed or the subscription expired."""


@dataclass
class RetryLater(PushError):
    """429, 5xx or a network error: try again (after ``retry_after_secs`` if known)."""

    message: str
    retry_after_secs: int | None = None

    def __str__(self) -> str:
        return self.message


class Refused(PushError):
    """Any other 4xx: this push will never be accepted (too big, bad key...)."""


def configured() -> bool:
    return bool(settings.WEBPUSH_VAPID_PRIVATE_KEY)


_vapid_cache: dict[str, Vapid] = {}
_local = threading.local()


def _vapid() -> Vapid:
    pem = settings.WEBPUSH_VAPID_PRIVATE_KEY
    if pem not in _vapid_cache:
        _vapid_cache.clear()
        _vapid_cache[pem] = Vapid.from_pem(pem.encode())
    return _vapid_cache[pem]


def public_key() -> str:
    """The application server key for ``PushManager.subscribe``: the uncompressed
    P-256 point, base64url without padding."""
    return _point(_vapid().public_key)


def public_key_of(pem: str) -> str:
    """The application server key of a private key in PEM."""
    return _point(Vapid.from_pem(pem.encode()).public_key)


def _point(key: ec.EllipticCurvePublicKey) -> str:
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode()


def new_private_key_pem() -> str:
    """A fresh VAPID private key (P-256, PKCS#8 PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def payload(
    *,
    notification_id: int,
    title: str,
    body: str,
    url: str | None,
    level: str,
    read_token: str = "",
) -> bytes:
    """What the service worker shows, as JSON within PAYLOAD_MAX_BYTES: the body
    is shortened (with an ellipsis) when the whole would not fit."""
    if url and url.startswith("/"):
        url = settings.HUB_BASE_URL + url
    fields = {
        "id": notification_id,
        "title": title,
        "body": body,
        "url": url or settings.HUB_BASE_URL + "/notifications/",
        "level": level,
        "read_token": read_token,
    }
    encoded = json.dumps(fields, ensure_ascii=False).encode()
    body = fields["body"].encode()
    while len(encoded) > PAYLOAD_MAX_BYTES and body:
        # Cut the excess in bytes plus room for the ellipsis (3 bytes), at a
        # character boundary; JSON escapes may need another round.
        keep = len(body) - (len(encoded) - PAYLOAD_MAX_BYTES) - 3
        body = body[: max(0, keep)].decode(errors="ignore").rstrip().encode()
        fields["body"] = body.decode() + "…" if body else ""
        encoded = json.dumps(fields, ensure_ascii=False).encode()
    return encoded


def send(
    *, endpoint: str, p256dh: str, auth: str, data: bytes, level: str, topic: str
) -> None:
    """Encrypt ``data`` for one subscription and hand it to its push service.

    Returns when the service accepted it (201); raises SubscriptionGone,
    RetryLater or Refused otherwise.
    """
    urgency, ttl = URGENCY_AND_TTL_SECS.get(level, URGENCY_AND_TTL_SECS["info"])
    try:
        webpush(
            {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
            data=data.decode(),
            vapid_private_key=_vapid(),
            vapid_claims={"sub": settings.WEBPUSH_VAPID_SUBJECT},
            content_encoding="aes128gcm",
            ttl=ttl,
            timeout=settings.PUSH_REQUEST_TIMEOUT_SECS,
            # RFC 8291's examples send the octet-stream type; pywebpush does not
            # unless told, and some services (web-push-testing) need it.
            headers={
                "Content-Type": "application/octet-stream",
                "Urgency": urgency,
                "Topic": topic,
            },
            requests_session=_session(),
        )
    except WebPushException as exc:
        raise _classified(exc) from exc
    except requests.RequestException as exc:
        raise RetryLater(f"{type(exc).__name__}: {exc}") from exc


def _session() -> requests.Session:
    """One keep-alive session per thread: a worker pushing many messages to one
    service reuses its TLS connection."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def _classified(exc: WebPushException) -> PushError:
    response = exc.response
    status = getattr(response, "status_code", None)
    body = (getattr(response, "text", "") or "")[:200]
    text = f"push service answered {status}: {body}"
    if status in (404, 410):
        return SubscriptionGone(text)
    if status is None or status == 429 or status >= 500:
        return RetryLater(text, _retry_after(response))
    return Refused(text)


def _retry_after(response) -> int | None:
    value = getattr(response, "headers", {}).get("Retry-After", "")
    if value.isdigit():
        return min(int(value), RETRY_AFTER_MAX_SECS)
    return None  # absent, or an HTTP date: our own backoff is close enough
