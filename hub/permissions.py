"""The hub's one staff rule: staff, or a user granted a named Django permission."""

from rest_framework.permissions import BasePermission


def staff_or_permission(permission: str, *, message: str) -> type[BasePermission]:
    """A permission class: signed-in staff, or a user holding ``permission``
    (``app_label.codename``), such as a service's token user. Refused with
    ``message``."""

    class StaffOrPermission(BasePermission):
        def has_permission(self, request, view) -> bool:
            user = request.user
            return bool(
                user
                and user.is_authenticated
                and (user.is_staff or user.has_perm(permission))
            )

    StaffOrPermission.message = message
    StaffOrPermission.__doc__ = f"Staff, or holders of ``{permission}``."
    return StaffOrPermission
