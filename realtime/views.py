"""The HTTP side of sockets: a single-use ticket for ``?ticket=`` on a WebSocket URL."""

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime.security import request_fingerprint
from realtime.tickets import ticket_issue


class WsTicketView(APIView):
    """A single-use ticket for ``?ticket=`` on a WebSocket URL."""

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "WsTicket",
            {
                "ticket": serializers.CharField(),
                "expires_in": serializers.IntegerField(),
            },
        ),
    )
    def post(self, request):
        return Response(
            {
                "ticket": ticket_issue(
                    user_id=request.user.pk, credential=request_fingerprint(request)
                ),
                "expires_in": settings.WS_TICKET_TTL_SECS,
            }
        )
