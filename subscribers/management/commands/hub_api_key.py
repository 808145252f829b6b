"""Create, list and revoke the API keys of product back ends."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from subscribers.models import ApiKey, Scope, validate_scopes


class Command(BaseCommand):
    help = (
        "API keys for product back ends: 'create NAME --scopes notify,broadcast' "
        "prints the key once, on its last line; 'list'; 'revoke NAME'."
    )

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Make a key; prints it once.")
        create.add_argument("name", help="What the key is for (unique while usable).")
        create.add_argument(
            "--scopes",
            required=True,
            help=f"Comma-separated, of: {','.join(Scope.values)}.",
        )
        actions.add_parser("list", help="Keys: prefix, name, scopes, state.")
        revoke = actions.add_parser("revoke", help="Revoke the usable key NAME.")
        revoke.add_argument("name")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"_{action}")(**options)

    def _create(self, *, name: str, scopes: str, **_) -> None:
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        try:
            validate_scopes(wanted)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from exc
        if not wanted:
            raise CommandError(
                f"Give at least one scope of: {', '.join(Scope.values)}."
            )
        with transaction.atomic():
            if ApiKey.objects.filter(name=name, revoked=False).exists():
                raise CommandError(
                    f"A usable key named {name!r} exists; revoke it or pick a name."
                )
            api_key, key = ApiKey.objects.create_key(name=name, scopes=wanted)
        self.stdout.write(
            f"API key {name!r} (prefix {api_key.prefix}), scopes "
            f"{','.join(wanted)}. It is shown only now; the hub stores its hash:"
        )
        self.stdout.write(key)

    def _list(self, **_) -> None:
        for api_key in ApiKey.objects.order_by("name", "-created"):
            state = "revoked" if api_key.revoked else "usable"
            if not api_key.revoked and api_key.has_expired:
                state = "expired"
            self.stdout.write(
                f"{api_key.prefix}  {api_key.name}  {','.join(api_key.scopes)}  "
                f"{state}  created {api_key.created:%Y-%m-%d %H:%M}"
            )

    def _revoke(self, *, name: str, **_) -> None:
        revoked = ApiKey.objects.filter(name=name, revoked=False).update(revoked=True)
        if not revoked:
            raise CommandError(f"No usable key named {name!r}.")
        self.stdout.write(f"Revoked {name!r}.")
