from django.apps import AppConfig


class WebConfig(AppConfig):
    """The browser pages: login, bell, notifications, topics, preferences, chat."""

    name = "web"
    label = "web"
