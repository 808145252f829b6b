"""The hub: an event-driven notification hub for Django."""

from .celery import app as celery_app

__all__ = ("celery_app",)
