"""HTTP API of subscribers (a product's users) and of the tokens minted for them."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.errors import TopicForbidden, TopicNotFound
from notifications.serializers import iso
from subscribers import selectors, services
from subscribers.errors import TokenSigningUnavailable
from subscribers.models import Subscriber
from subscribers.permissions import (
    StaffOrKeyMayManageSubscribers,
    StaffOrKeyMayMintTokens,
)
from subscribers.serializers import (
    SubscriberSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    subscriber_payload,
)
from subscribers.tokens import connection_token_mint


class NoSigningKey(APIException):
    """A 4xx, not a 503: retrying cannot help until the operator sets the secret
    (and clients retry 5xx answers)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = (
        "This hub has no HUB_JWT_SECRET, so it cannot mint connection tokens: "
        "set it, or sign tokens in your back end."
    )
    default_code = "no_signing_key"


class SubscriberView(APIView):
    """Create or update (PUT), read (GET) and forget (DELETE) one subscriber."""

    permission_classes = [StaffOrKeyMayManageSubscribers]

    @extend_schema(
        request=SubscriberSerializer,
        responses={200: SubscriberSerializer, 201: SubscriberSerializer},
    )
    def put(self, request, external_id: str):
        serializer = SubscriberSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            _, created = services.subscriber_upsert(
                external_id=external_id, **serializer.validated_data
            )
        except TopicNotFound as exc:
            raise ValidationError({"topics": [f"No topic {exc}."]}) from exc
        except TopicForbidden as exc:
            raise ValidationError(
                {"topics": [f"Subscribers may not follow topic {exc}."]}
            ) from exc
        subscriber = selectors.subscriber_get(external_id=external_id)
        return Response(
            subscriber_payload(subscriber),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(responses=SubscriberSerializer)
    def get(self, request, external_id: str):
        try:
            subscriber = selectors.subscriber_get(external_id=external_id)
        except Subscriber.DoesNotExist as exc:
            raise NotFound("No such subscriber.") from exc
        return Response(subscriber_payload(subscriber))

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, external_id: str):
        services.subscriber_forget(external_id=external_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SubscriberTokenView(APIView):
    """Mint a connection token for a product that does not hold the signing key."""

    permission_classes = [StaffOrKeyMayMintTokens]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenSerializer,
            409: OpenApiResponse(
                inline_serializer("NoSigningKey", {"detail": serializers.CharField()}),
                description="The hub has no HUB_JWT_SECRET to sign with.",
            ),
        },
    )
    def post(self, request, external_id: str):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            token, expires_at = connection_token_mint(
                external_id=external_id, ttl_secs=serializer.validated_data["ttl_secs"]
            )
        except TokenSigningUnavailable as exc:
            raise NoSigningKey() from exc
        return Response({"token": token, "expires_at": iso(expires_at)})
