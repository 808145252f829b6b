"""Admin for notifications and topics."""

from django.contrib import admin

from notifications.models import Broadcast, Notification, Subscription, Topic


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "recipient",
        "title",
        "level",
        "category",
        "topic",
        "created_at",
        "read_at",
    )
    list_filter = ("level", "category", "topic")
    search_fields = ("title", "recipient__username")
    raw_id_fields = ("recipient",)
    readonly_fields = ("created_at",)


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "staff_only", "group", "created_at")
    search_fields = ("slug", "name")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("user", "topic", "created_at")
    list_filter = ("topic",)
    raw_id_fields = ("user",)


@admin.register(Broadcast)
class BroadcastAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "title",
        "topic",
        "status",
        "recipients",
        "send_at",
        "sent_at",
    )
    list_filter = ("status", "topic")
    readonly_fields = ("recipients", "failure_reason", "progress_at", "sent_at")

    def get_readonly_fields(self, request, obj=None):
        # A new broadcast starts queued (or scheduled, with a future send_at) and
        # goes out (Broadcast.save); its status is the workflow's, not a choice.
        if obj is None:
            return (*self.readonly_fields, "status", "created_by")
        return self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
