"""Admin for push subscriptions and the record of pushes decided."""

from django.contrib import admin

from delivery.models import PushDelivery, PushSubscription


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("user", "endpoint", "created_at", "last_pushed_at")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
    # The endpoint and keys are capabilities: shown, never edited by hand.
    readonly_fields = ("endpoint", "p256dh", "auth", "created_at", "last_pushed_at")


@admin.register(PushDelivery)
class PushDeliveryAdmin(admin.ModelAdmin):
    list_display = ("notification", "user", "status", "due_at", "attempts", "reason")
    list_filter = ("status",)
    search_fields = ("user__username",)
    raw_id_fields = ("notification", "user")
    readonly_fields = [f.name for f in PushDelivery._meta.fields]
