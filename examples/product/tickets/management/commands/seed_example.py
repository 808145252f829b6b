"""Create the demo users and a few tickets, once; print how to log in."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from tickets import services
from tickets.models import Ticket

DEMO_PASSWORD = "product-demo-pass"  # noqa: S105 (a local demo's published password)
DEMO_USERS = [
    # username, first name, last name
    ("alice", "Alice", "Archer"),
    ("bob", "Bob", "Baker"),
    ("carol", "Carol", "Cole"),
]


class Command(BaseCommand):
    help = "Create demo users (alice, bob, carol) and sample tickets, idempotently."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        users = {}
        for username, first, last in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                # One save, which tells the hub about the user (accounts.signals).
                user = User.objects.create_user(
                    username,
                    email=f"{username}@example.com",
                    password=DEMO_PASSWORD,
                    first_name=first,
                    last_name=last,
                )
            users[username] = user
        if not Ticket.objects.exists():
            services.ticket_create(
                reporter=users["bob"],
                title="Checkout page times out",
                description="Paying with a saved card spins for a minute, then fails.",
                assignee=users["alice"],
            )
            dark_mode = services.ticket_create(
                reporter=users["alice"], title="Add a dark mode"
            )
            services.ticket_watch(ticket=dark_mode, user=users["carol"], watching=True)
        if options["verbosity"]:
            self.stdout.write(
                f"Log in at {settings.PRODUCT_URL}/login/ as alice, bob or carol "
                f"with the password {DEMO_PASSWORD}"
            )
