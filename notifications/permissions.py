"""Who may do what with notifications, one rule per class."""

from rest_framework.permissions import BasePermission


class CanCreateNotifications(BasePermission):
    """Staff, or holders of ``notifications.add_notification``."""

    message = "Creating notifications needs staff or notifications.add_notification."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (user.is_staff or user.has_perm("notifications.add_notification"))
        )


class CanBroadcast(BasePermission):
    """Staff, or holders of ``notifications.add_broadcast``."""

    message = "Broadcasting needs staff or notifications.add_broadcast."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (user.is_staff or user.has_perm("notifications.add_broadcast"))
        )
