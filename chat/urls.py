"""HTTP routes of the chat app, mounted under /api/."""

from django.urls import path

from chat.views import (
    InvitationAcceptView,
    InvitationDeclineView,
    InvitationListView,
    RoomInvitationsView,
    RoomListCreateView,
    RoomMessagesView,
)

urlpatterns = [
    path("chat/rooms/", RoomListCreateView.as_view(), name="chat-rooms"),
    path(
        "chat/rooms/<str:slug>/messages/",
        RoomMessagesView.as_view(),
        name="chat-room-messages",
    ),
    path(
        "chat/rooms/<str:slug>/invitations/",
        RoomInvitationsView.as_view(),
        name="chat-room-invitations",
    ),
    path("chat/invitations/", InvitationListView.as_view(), name="chat-invitations"),
    path(
        "chat/invitations/<int:pk>/accept/",
        InvitationAcceptView.as_view(),
        name="chat-invitation-accept",
    ),
    path(
        "chat/invitations/<int:pk>/decline/",
        InvitationDeclineView.as_view(),
        name="chat-invitation-decline",
    ),
]
