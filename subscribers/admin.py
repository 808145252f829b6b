"""Admin for subscribers and API keys (created here, the key shown once)."""

from django import forms
from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from subscribers.models import ApiKey, Scope, Subscriber

# The library registers its own key model; the hub's keys are ApiKey (scoped).
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ("external_id", "user", "name", "locale", "created_at")
    search_fields = ("external_id", "name", "user__email")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="What the key may call.",
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "expiry_date", "revoked"]


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    """The library's admin (hashing, the key shown once, revoking) plus scopes."""

    form = ApiKeyForm
    list_display = (*APIKeyModelAdmin.list_display, "scopes")
    list_filter = ("revoked",)
