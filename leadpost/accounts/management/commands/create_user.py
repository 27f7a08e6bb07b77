from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import CommandError, CommandParser

from leadpost.accounts.models import User
from leadpost.lib.commands import OperatorCommand, get_account


class Command(OperatorCommand):
    help = "Create a user (a member of an account's staff; agents are users)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, required=True)
        parser.add_argument("--first-name", required=True)
        parser.add_argument("--last-name", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--username", help="Login name; defaults to the e-mail or a made-up one."
        )
        parser.add_argument(
            "--password",
            help="Lets the user log in. Without it the user cannot log in until one is set.",
        )
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        account = get_account(options["account"])
        first, last = options["first_name"].strip(), options["last_name"].strip()
        if not first or not last:
            raise CommandError("--first-name and --last-name must not be empty.")
        username = options["username"] or options["email"] or f"user-{secrets.token_hex(4)}"
        if User.objects.filter(username=username).exists():
            raise CommandError(f"The username {username!r} is taken; pass --username.")
        user = User(
            account=account,
            username=username,
            first_name=first,
            last_name=last,
            email=options["email"],
        )
        if options["password"]:
            user.set_password(options["password"])
        else:
            user.set_unusable_password()
        user.save()
        self.report(
            options,
            {
                "user": {
                    "id": user.pk,
                    "account": account.pk,
                    "username": user.username,
                    "firstName": user.first_name,
                    "lastName": user.last_name,
                    "email": user.email,
                }
            },
            [f"Created user {user.pk}: {first} {last} ({username}) in account {account.pk}"],
        )
