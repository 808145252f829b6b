"""The dashboard's HTTP API (snapshot, custom metrics) and its page."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from redis.exceptions import RedisError
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard import selectors, services
from dashboard.errors import TooManyMetrics
from dashboard.permissions import CanPushMetrics, IsStaff
from dashboard.serializers import (
    MetricPushSerializer,
    MetricSerializer,
    SnapshotSerializer,
)
from hub.api import ServiceUnavailable
from subscribers.models import Scope
from subscribers.permissions import user_rule_or_key_scope

# The page's tiles: data-testid="tile-<name>", and what the script fills in.
TILES = [
    {"name": "sockets", "label": "Sockets"},
    {"name": "created-per-min", "label": "Created / min"},
    {"name": "delivered-per-min", "label": "Delivered / min"},
    {"name": "publish-p50", "label": "Publish p50 (ms)"},
    {"name": "publish-p99", "label": "Publish p99 (ms)"},
    {"name": "queue-depth", "label": "Queue depth"},
    {"name": "workers", "label": "Workers"},
    {"name": "failed-tasks", "label": "Failed tasks"},
]
CHARTS = [
    {"name": "sockets", "label": "Sockets"},
    {"name": "notifications", "label": "Notifications per minute"},
    {"name": "latency", "label": "Publish latency (ms)"},
    {"name": "queue", "label": "Celery queue depth"},
]


class DashboardView(APIView):
    """The current snapshot: the same dict as the socket's ``stats`` frame."""

    permission_classes = [IsStaff]

    @extend_schema(responses=SnapshotSerializer)
    def get(self, request):
        try:
            return Response(selectors.dashboard_snapshot())
        except RedisError as exc:
            raise ServiceUnavailable() from exc


class MetricPushView(APIView):
    """Keep a custom metric's latest value and push it to every dashboard."""

    permission_classes = [user_rule_or_key_scope(CanPushMetrics, Scope.METRICS)]

    @extend_schema(request=MetricPushSerializer, responses=MetricSerializer)
    def post(self, request):
        data = MetricPushSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            frame = services.metric_push(**data.validated_data)
        except TooManyMetrics as exc:
            raise serializers.ValidationError({"name": [str(exc)]}) from exc
        except RedisError as exc:
            raise ServiceUnavailable() from exc
        return Response(frame)


def dashboard_page(request):
    """The live dashboard. Anonymous users go to log in; other non-staff get 403."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
    if not request.user.is_staff:
        raise PermissionDenied("The dashboard is for staff.")
    return render(
        request, "dashboard/dashboard.html", {"tiles": TILES, "charts": CHARTS}
    )
