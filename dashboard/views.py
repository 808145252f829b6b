"""The dashboard's HTTP API: the snapshot and custom metrics (the page is web/'s)."""

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
