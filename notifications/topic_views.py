"""HTTP API of topics, subscriptions, topic events and broadcasts."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.api import WriteRateThrottle
from notifications import selectors, services
from notifications.errors import BroadcastNotCancellable, TopicForbidden, TopicNotFound
from notifications.models import Broadcast
from notifications.permissions import CanBroadcast
from notifications.serializers import (
    BroadcastAcceptedSerializer,
    BroadcastCreateSerializer,
    BroadcastSerializer,
    SubscriptionStateSerializer,
    TopicCreateSerializer,
    TopicEventSerializer,
    TopicSerializer,
)
from subscribers.authentication import AcceptsConnectionTokens
from subscribers.models import Scope
from subscribers.permissions import user_rule_or_key_scope

IDEMPOTENCY_KEY_MAX_CHARS = 128


class Conflict(ValidationError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class TopicListView(AcceptsConnectionTokens, APIView):
    def get_permissions(self):
        if self.request.method == "POST":
            return [IsAdminUser()]
        return [IsAuthenticated()]

    @extend_schema(responses=TopicSerializer(many=True))
    def get(self, request):
        topics = selectors.topics_visible(user=request.user)
        return Response(TopicSerializer(topics, many=True).data)

    @extend_schema(request=TopicCreateSerializer, responses={201: TopicSerializer})
    def post(self, request):
        serializer = TopicCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        topic = serializer.save()
        return Response(TopicSerializer(topic).data, status=status.HTTP_201_CREATED)


class TopicSubscriptionView(AcceptsConnectionTokens, APIView):
    @extend_schema(request=None, responses=SubscriptionStateSerializer)
    def put(self, request, slug: str):
        try:
            services.topic_subscribe(user=request.user, slug=slug)
        except TopicNotFound as exc:
            raise NotFound("No such topic.") from exc
        except TopicForbidden as exc:
            raise PermissionDenied("You may not follow this topic.") from exc
        return Response({"topic": slug, "subscribed": True})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, slug: str):
        try:
            services.topic_unsubscribe(user=request.user, slug=slug)
        except TopicNotFound as exc:
            raise NotFound("No such topic.") from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class TopicEventView(APIView):
    permission_classes = [user_rule_or_key_scope(CanBroadcast, Scope.BROADCAST)]
    throttle_classes = [WriteRateThrottle]
    throttle_scope = "topic_events"

    @extend_schema(request=TopicEventSerializer, responses={202: None})
    def post(self, request, slug: str):
        serializer = TopicEventSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.topic_event_send(
                slug=slug, event=serializer.validated_data["event"]
            )
        except TopicNotFound as exc:
            raise NotFound("No such topic.") from exc
        return Response({"accepted": True}, status=status.HTTP_202_ACCEPTED)


class BroadcastListView(APIView):
    permission_classes = [user_rule_or_key_scope(CanBroadcast, Scope.BROADCAST)]
    throttle_classes = [WriteRateThrottle]
    throttle_scope = "broadcasts"

    @extend_schema(
        request=BroadcastCreateSerializer,
        responses={202: BroadcastAcceptedSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="A retry with the same key returns the first broadcast.",
            )
        ],
    )
    def post(self, request):
        key = request.headers.get("Idempotency-Key") or None
        if key is not None and len(key) > IDEMPOTENCY_KEY_MAX_CHARS:
            raise ValidationError(
                {"Idempotency-Key": f"At most {IDEMPOTENCY_KEY_MAX_CHARS} characters."}
            )
        serializer = BroadcastCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item, _ = services.broadcast(
            **serializer.validated_data,
            # None for an API key, which is no user.
            created_by=request.user if request.user.is_authenticated else None,
            idempotency_key=key,
        )
        return Response(
            {"id": item.pk, "status": item.status}, status=status.HTTP_202_ACCEPTED
        )


class BroadcastDetailView(APIView):
    permission_classes = [IsAdminUser]

    def _get(self, pk: int) -> Broadcast:
        try:
            return Broadcast.objects.select_related("topic").get(pk=pk)
        except Broadcast.DoesNotExist as exc:
            raise NotFound("No such broadcast.") from exc

    @extend_schema(responses=BroadcastSerializer)
    def get(self, request, pk: int):
        return Response(BroadcastSerializer(self._get(pk)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk: int):
        self._get(pk)
        try:
            services.broadcast_cancel(broadcast_id=pk)
        except BroadcastNotCancellable as exc:
            detail = f"Only a scheduled broadcast can be cancelled; this one is {exc}."
            raise Conflict({"detail": detail}) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)
