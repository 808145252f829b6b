"""Who may do what with the dashboard, one rule per class."""

from rest_framework.permissions import BasePermission


class IsStaff(BasePermission):
    """Staff only: the dashboard shows the whole hub."""

    message = "The dashboard is for staff."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


class CanPushMetrics(BasePermission):
    """Staff, or holders of ``dashboard.push_metric`` (a service's token user)."""

    message = "Pushing metrics needs staff or dashboard.push_metric."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (user.is_staff or user.has_perm("dashboard.push_metric"))
        )
