"""Admin for email preferences and the record of emails sent."""

from django.contrib import admin

from emails.models import Preference, SentEmail


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "email",
        "digest",
        "timezone",
        "quiet_start",
        "quiet_end",
        "unsubscribed_at",
    )
    list_filter = ("email", "digest")
    search_fields = ("user__username", "user__email")
    raw_id_fields = ("user",)
    readonly_fields = ("unsubscribed_at", "updated_at")


@admin.register(SentEmail)
class SentEmailAdmin(admin.ModelAdmin):
    """The record is history: read it here; the sweeps write it."""

    list_display = (
        "id",
        "user",
        "kind",
        "key",
        "status",
        "notification_count",
        "attempts",
        "created_at",
        "sent_at",
    )
    list_filter = ("kind", "status")
    search_fields = ("user__username", "key", "to_address")
    raw_id_fields = ("user",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
