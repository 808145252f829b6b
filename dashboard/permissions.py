"""Who may do what with the dashboard, one rule per class."""

from rest_framework.permissions import IsAdminUser

from hub.permissions import staff_or_permission


class IsStaff(IsAdminUser):
    """DRF's staff rule, with the dashboard's reason: it shows the whole hub."""

    message = "The dashboard is for staff."


CanPushMetrics = staff_or_permission(
    "dashboard.push_metric",
    message="Pushing metrics needs staff or dashboard.push_metric.",
)
