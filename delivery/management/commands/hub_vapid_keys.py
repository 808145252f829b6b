"""``manage.py hub_vapid_keys``: make a VAPID key pair for Web Push."""

from pathlib import Path

from django.core.management.base import BaseCommand

from delivery import webpush


class Command(BaseCommand):
    help = (
        "Print a new VAPID key pair: the private key as a WEBPUSH_VAPID_PRIVATE_KEY "
        "line for .env (PEM, newlines escaped), and the public key browsers get. "
        "With --file, keep the private key in that file instead (made only if "
        "missing) and print nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--file", help="write the private key PEM here unless the file exists"
        )

    def handle(self, *args, file: str | None = None, **options) -> None:
        if file:
            path = Path(file)
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch(mode=0o600)
                path.write_text(webpush.new_private_key_pem())
            return
        pem = webpush.new_private_key_pem()
        public = webpush.public_key_of(pem)
        escaped = pem.strip().replace("\n", "\\n")
        self.stdout.write(f"# public key (GET /api/push/key/ serves it): {public}")
        self.stdout.write(f'WEBPUSH_VAPID_PRIVATE_KEY="{escaped}"')
