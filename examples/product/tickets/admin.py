"""Tickets in the admin (writes there skip the services, so notify nobody)."""

from django.contrib import admin

from tickets.models import Comment, Ticket


class CommentInline(admin.TabularInline):
    model = Comment
    extra = 0


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "status", "reporter", "assignee", "updated_at"]
    list_filter = ["status"]
    search_fields = ["title"]
    inlines = [CommentInline]
