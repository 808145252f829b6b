"""Errors of the dashboard's services, translated at the edges (views)."""


class TooManyMetrics(Exception):
    """A new custom metric name past DASHBOARD_METRICS_MAX_NAMES."""
