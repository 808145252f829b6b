"""HTTP API of chat: the rooms a user may see, a room's history, and invitations."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import (
    NotFound,
    PermissionDenied,
    Throttled,
    ValidationError,
)
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from chat import selectors, services
from chat.errors import (
    CannotInvite,
    InvalidInput,
    InvitationNotFound,
    RateLimited,
    RoomExists,
    RoomForbidden,
)
from chat.models import ROOM_SLUG_RE, Room
from chat.serializers import (
    InvitationCreateSerializer,
    InvitationSerializer,
    MessageSerializer,
    RoomCreateSerializer,
    RoomSerializer,
)
from hub.api import IdCursorPagination, WriteRateThrottle

LIMIT_PARAMETER = OpenApiParameter("limit", int, description="Page size, at most 200.")


class HistoryPagination(IdCursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


class InvitationPagination(HistoryPagination):
    pass


class RoomPagination(CursorPagination):
    """Rooms by slug, cursor-paginated. A cursor whose position is no slug (a
    forged one: PostgreSQL refuses a NUL in a string, a 500) gets DRF's answer for
    an undecodable cursor, as IdCursorPagination's do: 404 "Invalid cursor"."""

    ordering = "slug"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        position = cursor.position if cursor is not None else None
        if position is not None and not ROOM_SLUG_RE.fullmatch(position):
            raise NotFound(self.invalid_cursor_message)
        return cursor


def _room_shape(room: Room) -> dict:
    """One room as the list shows it, its people fetched in two queries."""
    return RoomSerializer(
        selectors.with_people(Room.objects.filter(pk=room.pk)).get()
    ).data


def _throttled(exc: RateLimited) -> Throttled:
    return Throttled(wait=exc.retry_after_secs, detail=str(exc))


def _room_for(request, slug: str) -> Room:
    """The room ``slug`` if the user may enter it: 403 if not, 404 if there is
    none. Someone else's support room is 403 whether or not it exists, so that
    the answer does not tell which usernames have one."""
    if selectors.support_room_of_another(slug=slug, user=request.user):
        raise PermissionDenied("A support room admits its user and staff.")
    try:
        room = selectors.room_get(slug=slug)
    except Room.DoesNotExist as exc:
        raise NotFound("No such room.") from exc
    if not selectors.room_may_enter(room=room, user=request.user):
        raise PermissionDenied("This room is private.")
    return room


class RoomListCreateView(generics.ListAPIView):
    """Rooms the user may enter, by slug, cursor-paginated; POST creates one."""

    serializer_class = RoomSerializer
    pagination_class = RoomPagination
    throttle_classes = [WriteRateThrottle]
    throttle_scope = "chat_rooms"

    def get_queryset(self):
        return selectors.with_people(selectors.rooms_visible(user=self.request.user))

    @extend_schema(parameters=[LIMIT_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

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
                invitee_ids=data["members"],
            )
        except RoomForbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        except (RoomExists, InvalidInput) as exc:
            raise ValidationError({"slug": [str(exc)]}) from exc
        except RateLimited as exc:
            raise _throttled(exc) from exc
        return Response(_room_shape(room), status=status.HTTP_201_CREATED)


class RoomMessagesView(generics.ListAPIView):
    """A room's messages, newest first, cursor-paginated; for those who may enter it."""

    serializer_class = MessageSerializer
    pagination_class = HistoryPagination

    def get_queryset(self):
        room = _room_for(self.request, self.kwargs["slug"])
        return selectors.messages_newest_first(room=room)

    @extend_schema(parameters=[LIMIT_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RoomInvitationsView(generics.GenericAPIView):
    """A member of a private room invites someone by username."""

    serializer_class = InvitationSerializer
    throttle_classes = [WriteRateThrottle]
    throttle_scope = "chat_invitations"

    @extend_schema(
        request=InvitationCreateSerializer,
        responses={
            201: InvitationSerializer,
            200: OpenApiResponse(
                InvitationSerializer, description="Already invited: the pending one."
            ),
        },
    )
    def post(self, request, slug: str):
        serializer = InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        room = _room_for(request, slug)
        try:
            invitation, created = services.invitation_create(
                room=room,
                inviter=request.user,
                username=serializer.validated_data["username"],
            )
        except RoomForbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        except InvalidInput as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        except CannotInvite as exc:
            raise ValidationError({"username": [str(exc)]}) from exc
        except RateLimited as exc:
            raise _throttled(exc) from exc
        return Response(
            InvitationSerializer(invitation).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class InvitationListView(generics.ListAPIView):
    """The user's pending invitations, newest first, cursor-paginated."""

    serializer_class = InvitationSerializer
    pagination_class = InvitationPagination

    def get_queryset(self):
        return selectors.invitations_pending(user=self.request.user)

    @extend_schema(parameters=[LIMIT_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class InvitationAcceptView(generics.GenericAPIView):
    """The invitee accepts: now a member, the room is returned."""

    serializer_class = RoomSerializer
    throttle_classes = [WriteRateThrottle]
    throttle_scope = "chat_invitations_answer"

    @extend_schema(request=None, responses={200: RoomSerializer})
    def post(self, request, pk: int):
        try:
            room = services.invitation_accept(invitation_id=pk, user=request.user)
        except InvitationNotFound as exc:
            raise NotFound(str(exc)) from exc
        return Response(_room_shape(room))


class InvitationDeclineView(generics.GenericAPIView):
    """The invitee declines; later invitations to the room are not announced."""

    serializer_class = InvitationSerializer
    throttle_classes = [WriteRateThrottle]
    throttle_scope = "chat_invitations_answer"

    @extend_schema(request=None, responses={204: None})
    def post(self, request, pk: int):
        try:
            services.invitation_decline(invitation_id=pk, user=request.user)
        except InvitationNotFound as exc:
            raise NotFound(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)
