"""Tickets: the product's own domain, whose events notify people through the hub."""

from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"
