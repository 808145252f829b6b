"""HTTP routes of the dashboard's API (under /api/); the page is web/'s."""

from django.urls import path

from dashboard.views import DashboardView, MetricPushView

api_urlpatterns = [
    path("dashboard/", DashboardView.as_view(), name="dashboard"),
    path("dashboard/metrics/", MetricPushView.as_view(), name="dashboard-metrics"),
]
