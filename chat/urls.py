"""HTTP routes of the chat app, mounted under /api/."""

from django.urls import path

from chat.views import RoomListCreateView, RoomMessagesView

urlpatterns = [
    path("chat/rooms/", RoomListCreateView.as_view(), name="chat-rooms"),
    path(
        "chat/rooms/<str:slug>/messages/",
        RoomMessagesView.as_view(),
        name="chat-room-messages",
    ),
]
