"""Validation and shapes of the dashboard's HTTP API."""

import math
import re

from django.conf import settings
from rest_framework import serializers

from hub.fields import StrictCharField

METRIC_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class FiniteNumberField(serializers.FloatField):
    """A JSON number that is finite: not a string, not a boolean, not NaN or inf."""

    default_error_messages = {"invalid": "A finite number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        try:
            value = float(data)
        except OverflowError:  # an integer past the largest float
            self.fail("invalid")
        if not math.isfinite(value):
            self.fail("invalid")
        return int(data) if isinstance(data, int) else value


class MetricPushSerializer(serializers.Serializer):
    name = StrictCharField(
        max_length=settings.DASHBOARD_METRIC_NAME_MAX_CHARS,
        help_text="Letters, digits, '_', '-' or '.', starting with a letter or digit.",
    )
    value = FiniteNumberField(help_text="A finite JSON number.")

    def validate_name(self, name: str) -> str:
        if not METRIC_NAME_RE.match(name):
            raise serializers.ValidationError(
                "Use letters, digits, '_', '-' or '.', starting with a letter or digit."
            )
        return name


class MetricSerializer(serializers.Serializer):
    """The ``metric`` frame, as pushed to /ws/dashboard/."""

    type = serializers.CharField()
    name = serializers.CharField()
    value = serializers.FloatField()
    at = serializers.DateTimeField()


class LatencySerializer(serializers.Serializer):
    p50 = serializers.FloatField(allow_null=True)
    p99 = serializers.FloatField(allow_null=True)


class CelerySerializer(serializers.Serializer):
    queue_depth = serializers.IntegerField(allow_null=True)
    workers_alive = serializers.IntegerField()
    failed_tasks = serializers.IntegerField()


class SnapshotSerializer(serializers.Serializer):
    """The ``stats`` frame, as pushed to /ws/dashboard/ (schema only)."""

    type = serializers.CharField()
    at = serializers.DateTimeField()
    sockets = serializers.IntegerField()
    notifications_created_per_min = serializers.IntegerField()
    notifications_delivered_per_min = serializers.IntegerField()
    notifications_created_total = serializers.IntegerField()
    notifications_delivered_total = serializers.IntegerField()
    publish_latency_ms = LatencySerializer()
    celery = CelerySerializer()
    metrics = serializers.DictField(child=serializers.FloatField())
