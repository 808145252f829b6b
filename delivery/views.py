"""HTTP: the VAPID public key and the user's push subscriptions."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from delivery import selectors, services, webpush
from delivery.serializers import (
    PushEndpointSerializer,
    PushKeySerializer,
    PushSubscriptionInputSerializer,
    PushSubscriptionSerializer,
)
from subscribers.authentication import AcceptsConnectionTokens


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
