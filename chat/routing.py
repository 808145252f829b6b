"""WebSocket routes of the chat app."""

from django.urls import re_path

from chat.consumers import ChatConsumer

websocket_urlpatterns = [
    # Any segment, as in the seeds: the consumer checks the name and closes 4404
    # with a reason, instead of the catch-all's "no such endpoint".
    re_path(r"^ws/chat/(?P<room>[^/]+)/$", ChatConsumer.as_asgi()),
]
