"""Audiences for broadcast tests: many followers of a topic, a few with tokens."""

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from notifications.models import Subscription, Topic


def make_audience(topic: Topic, *, size: int, connected: int, prefix: str) -> list:
    """``size`` users named ``<prefix><n>`` following ``topic``; the first
    ``connected`` get API tokens, to open sockets with."""
    User = get_user_model()
    users = User.objects.bulk_create(User(username=f"{prefix}{i}") for i in range(size))
    Subscription.objects.bulk_create(Subscription(user=u, topic=topic) for u in users)
    Token.objects.bulk_create(
        Token(user=u, key=Token.generate_key()) for u in users[:connected]
    )
    return users
