"""Admin for notifications and topics."""

from django.contrib import admin

from notifications.models import Notification, Topic


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
    list_display = ("slug", "name", "created_at")
    search_fields = ("slug", "name")
    prepopulated_fields = {"slug": ("name",)}
