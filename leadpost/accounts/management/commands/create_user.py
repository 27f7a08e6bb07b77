from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from leadpost.accounts.actions import ADMINISTRATORS, create_user
from leadpost.accounts.commands import get_account
from leadpost.accounts.models import SecurityGroup, User
from leadpost.lib.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Create a user (a member of an account's staff; agents are users)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", required=True, help="The account's id.")
        parser.add_argument("--first-name", required=True)
        parser.add_argument("--last-name", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--username", help="Login name; defaults to the e-mail or a made-up one."
        )
        parser.add_argument(
            "--password",
            help="Lets the user log in at /staff/; it must pass the password validators. Without it "
            "the user cannot log in until one is set.",
        )
        parser.add_argument(
            "--group",
            action="append",
            dest="groups",
            help='A security group of the account (repeatable); default "Agents".',
        )
        parser.add_argument(
            "--admin",
            action="store_true",
            help="Shortcut for --group Administrators (every permission).",
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
        groups = list(options["groups"] or [])
        if options["admin"]:
            groups.append(ADMINISTRATORS)
        try:
            user = create_user(
                account,
                username=username,
                first_name=first,
                last_name=last,
                email=options["email"],
                password=options["password"],
                groups=groups or None,
            )
        except SecurityGroup.DoesNotExist as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError("--password: " + " ".join(exc.messages)) from None
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
                    "securityGroups": [g.name for g in user.security_groups.all()],
                }
            },
            [
                f"Created user {user.pk}: {first} {last} ({username}) in account {account.pk}, "
                f"groups: {', '.join(g.name for g in user.security_groups.all()) or 'none'}"
            ],
        )
