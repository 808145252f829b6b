"""HTTP routes of the dashboard: the API (under /api/) and the page."""

from django.urls import path

from dashboard.views import DashboardView, MetricPushView, dashboard_page

api_urlpatterns = [
    path("dashboard/", DashboardView.as_view(), name="dashboard"),
    path("dashboard/metrics/", MetricPushView.as_view(), name="dashboard-metrics"),
]

page_urlpatterns = [
    path("", dashboard_page, name="dashboard-page"),
]
