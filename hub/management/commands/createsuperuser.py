"""Django's createsuperuser, with the password validators on ``--noinput`` too.

Django checks AUTH_PASSWORD_VALIDATORS when it prompts for the password, but
takes ``DJANGO_SUPERUSER_PASSWORD`` unchecked with ``--noinput``: the way a
deployment script creates its admin. Here that password must pass them too.
"""

import os

from django.contrib.auth.management.commands import createsuperuser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if not options["interactive"] and password is not None:
            try:
                validate_password(password, self._user_for_validation(options))
            except ValidationError as exc:
                raise CommandError(
                    "DJANGO_SUPERUSER_PASSWORD: " + " ".join(exc.messages)
                ) from exc
        return super().handle(*args, **options)

    def _user_for_validation(self, options):
        """An unsaved user with the fields the similarity validator compares."""
        fields = {}
        for name in [self.UserModel.USERNAME_FIELD, *self.UserModel.REQUIRED_FIELDS]:
            value = options.get(name) or os.environ.get(
                f"DJANGO_SUPERUSER_{name.upper()}"
            )
            if value and not self.UserModel._meta.get_field(name).many_to_many:
                fields[name] = value
        return self.UserModel(**fields)
