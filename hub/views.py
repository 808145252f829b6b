"""Hub-wide HTTP endpoints: API tokens, health and metrics."""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from drf_spectacular.utils import extend_schema, inline_serializer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.api import LimitedJSONParser
from hub.authentication import TokenAuthentication, token_expires_at
from hub.lockout import LoginLockedOut, is_locked_out
from hub.services import TokenGone, api_token_issue, api_token_revoke, api_token_rotate

logger = logging.getLogger(__name__)

# How long /healthz waits for Celery workers to answer a ping, and caches the count.
HEALTH_WORKER_PING_SECS = 0.5
HEALTH_WORKER_CACHE_SECS = 10


TokenResponse = inline_serializer(
    "ApiToken",
    {
        "token": serializers.CharField(),
        "expires_at": serializers.DateTimeField(
            allow_null=True, help_text="null when tokens never expire"
        ),
    },
)


def _token_response(token) -> Response:
    return Response(
        {
            "token": token.key,
            "expires_at": serializers.DateTimeField().to_representation(
                token_expires_at(token)
            ),
        }
    )


class IsAuthenticatedToRevoke(BasePermission):
    """Anyone may ask for a token; only its holder may revoke it."""

    def has_permission(self, request, view) -> bool:
        return request.method != "DELETE" or request.user.is_authenticated


class ObtainTokenView(ObtainAuthToken):
    """``POST``: the user's API token for a username and password (a new one
    if it has expired); ``DELETE``: revoke the token the request carries.

    Reads JSON with the API's limits (DRF's stock parser let a deeply nested
    body raise RecursionError: a 500). A login refused by the lockout
    (hub.lockout) is 429 with Retry-After, not "wrong password".
    """

    parser_classes = [LimitedJSONParser, FormParser, MultiPartParser]

    # DELETE needs the token it revokes; POST takes a password and never reads
    # the Authorization header: an expired token there must not stop a client
    # from getting a new one.
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticatedToRevoke]

    def perform_authentication(self, request):
        if request.method == "DELETE":
            super().perform_authentication(request)

    @extend_schema(request=AuthTokenSerializer, responses=TokenResponse, auth=[])
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            if is_locked_out(request):
                raise LoginLockedOut
            raise ValidationError(serializer.errors)
        return _token_response(api_token_issue(user=serializer.validated_data["user"]))

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, *args, **kwargs):
        api_token_revoke(token=request.auth)
        return Response(status=204)


class RotateTokenView(APIView):
    """A new API token for the one the request carries, which stops working."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=TokenResponse)
    def post(self, request):
        try:
            token = api_token_rotate(token=request.auth)
        except TokenGone as gone:
            raise AuthenticationFailed("Token was rotated or revoked.") from gone
        return _token_response(token)


def _check_db() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # noqa: BLE001 (any failure means "down")
        logger.warning("healthz: database down: %s", exc)
        return "down"


def _check_redis() -> str:
    try:
        cache.set("healthz", 1, timeout=5)
        return "ok"
    except Exception as exc:  # noqa: BLE001 (any failure means "down")
        logger.warning("healthz: redis down: %s", exc)
        return "down"


def _check_channel_layer() -> str:
    from realtime import publish

    try:
        publish.ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001 (any failure means "down")
        logger.warning("healthz: channel layer down: %s", exc)
        return "down"


def _count_workers(redis_ok: bool) -> int:
    from hub.celery import app

    if not redis_ok:  # the broker is Redis too: no worker can be reached
        return 0
    cached = cache.get("healthz:workers")
    if cached is not None:
        return cached
    try:
        count = len(app.control.ping(timeout=HEALTH_WORKER_PING_SECS))
    except Exception:  # noqa: BLE001 (no broker, no workers)
        return 0
    if count:  # a zero is asked again next time, so a starting worker shows at once
        cache.set("healthz:workers", count, timeout=HEALTH_WORKER_CACHE_SECS)
    return count


def healthz(request):
    """200 when the database and Redis answer, else 503; always JSON."""
    report = {"db": _check_db(), "redis": _check_redis()}
    report["channel_layer"] = (
        _check_channel_layer() if report["redis"] == "ok" else "down"
    )
    report["workers"] = _count_workers(report["redis"] == "ok")
    healthy = report["db"] == "ok" and report["redis"] == "ok"
    return JsonResponse(report, status=200 if healthy else 503)


def metrics_view(request):
    """Prometheus text, for those METRICS_PUBLIC and METRICS_TOKEN let in."""
    if not _may_scrape(request):
        return JsonResponse(
            {"detail": "Metrics are for staff and the scraper's METRICS_TOKEN."},
            status=403,
        )
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def _may_scrape(request) -> bool:
    if settings.METRICS_PUBLIC:
        return True
    token = settings.METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    if token and constant_time_compare(sent, f"Bearer {token}"):
        return True
    return request.user.is_authenticated and request.user.is_staff
