"""The hub's one staff rule (staff, or a user granted a named Django
permission), and who may read the API schema."""

from django.conf import settings
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


class SchemaIsPublicOrUserIsSignedIn(BasePermission):
    """/api/schema/ and /api/docs/: anyone with API_SCHEMA_PUBLIC, else users."""

    message = "The API schema is for signed-in users (API_SCHEMA_PUBLIC is off)."

    def has_permission(self, request, view) -> bool:
        if settings.API_SCHEMA_PUBLIC:
            return True
        return bool(request.user and request.user.is_authenticated)
