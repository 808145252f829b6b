"""Admin for chat rooms, members, invitations and messages (text escaped, as
Django does)."""

from django.contrib import admin
from django.utils.text import Truncator

from chat.models import Invitation, Membership, Message, Room


class MembershipInline(admin.TabularInline):
    model = Membership
    raw_id_fields = ("user",)
    readonly_fields = ("joined_at",)
    extra = 0


class InvitationInline(admin.TabularInline):
    model = Invitation
    fk_name = "room"
    raw_id_fields = ("invitee", "inviter")
    readonly_fields = ("created_at", "answered_at")
    extra = 0


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "is_private", "support_user", "created_at")
    list_filter = ("is_private",)
    search_fields = ("slug", "name")
    raw_id_fields = ("support_user", "created_by")
    readonly_fields = ("created_at",)
    inlines = [MembershipInline, InvitationInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "room", "author", "excerpt", "created_at")
    list_filter = ("room",)
    search_fields = ("text", "author__username", "room__slug")
    raw_id_fields = ("room", "author")
    readonly_fields = ("created_at",)

    @admin.display(description="text")
    def excerpt(self, message: Message) -> str:
        return Truncator(message.text).chars(80)
