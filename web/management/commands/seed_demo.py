"""Create the demo users and a few notifications, once; print how to log in."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from notifications.models import Notification, Topic
from notifications.services import notify

DEMO_PASSWORD = "hub-demo-pass"
DEMO_USERS = [
    # username, is_staff
    ("admin", True),
    ("alice", False),
    ("bob", False),
]


class Command(BaseCommand):
    help = (
        "Create demo users (admin, alice, bob) and sample notifications, idempotently."
    )

    def handle(self, *args, **options) -> None:
        # The demo superuser's password is printed here and written in the
        # README: a hub that anyone can reach must never have it.
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo creates users with a published password; it runs only "
                "with DJANGO_DEBUG=1 (make run sets it). Create real users with "
                "manage.py createsuperuser."
            )
        User = get_user_model()
        for username, staff in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "is_staff": staff,
                    "is_superuser": staff,
                    "email": f"{username}@example.com",
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            Token.objects.get_or_create(user=user)
        Topic.objects.get_or_create(
            slug="deploys",
            defaults={"name": "Deploys", "description": "Deployment announcements"},
        )
        alice = User.objects.get(username="alice")
        if not Notification.objects.filter(recipient=alice).exists():
            notify(
                recipients=[alice],
                title="Welcome to the hub",
                body="This is your notification feed.",
                level="success",
                idempotency_key="demo:welcome",
            )
        admin_token = Token.objects.get(user__username="admin").key
        base = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        self.stdout.write(
            f"\nThe hub: {base}/  (admin: {base}/admin/)\n"
            f"  log in at {base}/login/ as admin, alice or bob with password "
            f"{DEMO_PASSWORD!r}\n"
            f"  API token of admin: {admin_token}\n"
            f"  try: curl -H 'Authorization: Token {admin_token}' "
            f"{base}/api/notifications/unread-count/\n"
        )
