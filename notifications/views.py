"""HTTP API of the notification feed."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from hub.api import IdCursorPagination, WriteRateThrottle
from notifications import selectors, services
from notifications.models import Notification
from notifications.permissions import CanCreateNotifications
from notifications.serializers import (
    CreatedSerializer,
    FeedFilterSerializer,
    MarkedSerializer,
    NotificationCreateSerializer,
    NotificationSerializer,
    UnreadCountSerializer,
)
from subscribers.authentication import AcceptsConnectionTokens
from subscribers.models import Scope
from subscribers.permissions import user_rule_or_key_scope
from subscribers.services import subscribers_ensure


class FeedPagination(IdCursorPagination):
    page_size = 20
    page_size_query_param = "limit"
    max_page_size = 100


class NotificationViewSet(
    AcceptsConnectionTokens,
    mixins.ListModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = NotificationSerializer
    pagination_class = FeedPagination
    lookup_value_regex = r"\d+"
    queryset = Notification.objects.none()  # for the schema; see get_queryset
    throttle_scope = "notifications"

    def get_permissions(self):
        if self.action == "create":
            return [user_rule_or_key_scope(CanCreateNotifications, Scope.NOTIFY)()]
        return super().get_permissions()

    def get_throttles(self):
        if self.action == "create":
            return [WriteRateThrottle()]
        return super().get_throttles()

    def get_queryset(self):
        filters = FeedFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.notification_feed(
            user_id=self.request.user.pk, **filters.validated_data
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("unread", bool),
            OpenApiParameter("topic", str),
            OpenApiParameter("category", str),
            OpenApiParameter("limit", int, description="Page size, at most 100."),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=NotificationCreateSerializer, responses={201: CreatedSerializer}
    )
    def create(self, request):
        serializer = NotificationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        if "subscribers" in fields:
            # Unknown external ids become subscribers: a product may notify a
            # user before their first visit.
            ids = subscribers_ensure(external_ids=fields.pop("subscribers"))
            fields["recipients"] = sorted(ids.values())
        created = services.notify(**fields)
        return Response({"created": len(created)}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request, pk: str):
        try:
            services.notification_archive(
                user_id=request.user.pk, notification_id=int(pk)
            )
        except Notification.DoesNotExist as exc:
            raise NotFound("No such notification.") from exc
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request, pk: str):
        try:
            notification = services.notification_mark_read(
                user_id=request.user.pk, notification_id=int(pk)
            )
        except Notification.DoesNotExist as exc:
            raise NotFound("No such notification.") from exc
        return Response(NotificationSerializer(notification).data)

    @extend_schema(request=None, responses={200: MarkedSerializer})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        marked = services.notifications_mark_all_read(user_id=request.user.pk)
        return Response({"marked": marked})

    @extend_schema(responses={200: UnreadCountSerializer})
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request):
        return Response(
            {"unread": selectors.notification_unread_count(user_id=request.user.pk)}
        )
