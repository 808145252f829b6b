"""HTTP API of chat: the rooms a user may see, and a room's history."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from chat import selectors, services
from chat.errors import InvalidInput, RoomExists, RoomForbidden
from chat.models import Room
from chat.serializers import MessageSerializer, RoomCreateSerializer, RoomSerializer
from hub.api import IdCursorPagination


class HistoryPagination(IdCursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


class RoomListCreateView(generics.GenericAPIView):
    serializer_class = RoomSerializer

    def get_queryset(self):
        return selectors.rooms_visible(user=self.request.user).prefetch_related(
            "memberships__user"
        )

    @extend_schema(responses={200: RoomSerializer(many=True)})
    def get(self, request):
        return Response(RoomSerializer(self.get_queryset(), many=True).data)

    @extend_schema(request=RoomCreateSerializer, responses={201: RoomSerializer})
    def post(self, request):
        serializer = RoomCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            room = services.room_create(
                creator=request.user,
                slug=data["slug"],
                name=data["name"],
                private=data["private"],
                member_ids=data["members"],
            )
        except RoomForbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        except (RoomExists, InvalidInput) as exc:
            raise ValidationError({"slug": [str(exc)]}) from exc
        return Response(RoomSerializer(room).data, status=status.HTTP_201_CREATED)


class RoomMessagesView(generics.ListAPIView):
    """A room's messages, newest first, cursor-paginated; for those who may enter it."""

    serializer_class = MessageSerializer
    pagination_class = HistoryPagination

    def get_queryset(self):
        try:
            room = selectors.room_get(slug=self.kwargs["slug"])
        except Room.DoesNotExist as exc:
            raise NotFound("No such room.") from exc
        if not selectors.room_may_enter(room=room, user=self.request.user):
            raise PermissionDenied("This room is private.")
        return selectors.messages_newest_first(room=room)

    @extend_schema(
        parameters=[
            OpenApiParameter("limit", int, description="Page size, at most 200.")
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
