"""HTTP: the VAPID public key and the user's push subscriptions."""

from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from delivery import selectors, services, tokens, webpush
from delivery.serializers import (
    PushEndpointSerializer,
    PushKeySerializer,
    PushReadSerializer,
    PushSubscriptionInputSerializer,
    PushSubscriptionSerializer,
)
from notifications import services as notification_services
from notifications.models import Notification
from subscribers.authentication import AcceptsConnectionTokens

SERVICE_WORKER = Path(settings.BASE_DIR) / "static" / "hub" / "sw.js"


class PushKeyView(AcceptsConnectionTokens, APIView):
    """The application server key browsers subscribe with; 404 when push is off."""

    @extend_schema(responses={200: PushKeySerializer})
    def get(self, request):
        if not webpush.configured():
            raise NotFound("Web Push is not configured on this hub.")
        return Response({"public_key": webpush.public_key()})


class PushSubscriptionView(AcceptsConnectionTokens, APIView):
    """The user's browsers subscribed to push: list, add (or refresh), remove."""

    @extend_schema(responses={200: PushSubscriptionSerializer(many=True)})
    def get(self, request):
        rows = selectors.subscriptions_of(user_id=request.user.pk)
        return Response(PushSubscriptionSerializer(rows, many=True).data)

    @extend_schema(
        request=PushSubscriptionInputSerializer,
        responses={200: PushSubscriptionSerializer, 201: PushSubscriptionSerializer},
    )
    def post(self, request):
        serializer = PushSubscriptionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        row, created = services.subscription_save(
            user_id=request.user.pk,
            endpoint=data["endpoint"],
            p256dh=data["keys"]["p256dh"],
            auth=data["keys"]["auth"],
        )
        return Response(
            PushSubscriptionSerializer(row).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(request=PushEndpointSerializer, responses={204: None})
    def delete(self, request):
        serializer = PushEndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not services.subscription_delete(
            user_id=request.user.pk, endpoint=serializer.validated_data["endpoint"]
        ):
            raise NotFound("No such subscription of yours.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class PushReadView(APIView):
    """A clicked push marks its notification read: the signed token in the push
    is the authorisation (the service worker has no session or CSRF token)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=PushReadSerializer, responses={204: None})
    def post(self, request):
        serializer = PushReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        target = tokens.read_token_target(serializer.validated_data["token"])
        if target is None:
            raise NotFound("Unknown or expired token.")
        user_id, notification_id = target
        try:
            notification_services.notification_mark_read(
                user_id=user_id, notification_id=notification_id
            )
        except Notification.DoesNotExist as exc:
            raise NotFound("No such notification.") from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """/sw.js at the site root, so the service worker's scope is the whole site;
    never cached long, so a new version reaches browsers on their next visit."""
    response = HttpResponse(
        SERVICE_WORKER.read_bytes(), content_type="text/javascript; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache"
    return response
