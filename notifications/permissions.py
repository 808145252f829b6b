"""Who may do what with notifications, one rule per class."""

from hub.permissions import staff_or_permission

CanCreateNotifications = staff_or_permission(
    "notifications.add_notification",
    message="Creating notifications needs staff or notifications.add_notification.",
)
CanBroadcast = staff_or_permission(
    "notifications.add_broadcast",
    message="Broadcasting needs staff or notifications.add_broadcast.",
)
