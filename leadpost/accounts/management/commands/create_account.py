from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from leadpost.accounts.actions import create_account
from leadpost.accounts.models import validate_time_zone
from leadpost.lib.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Create an account (an agency)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--time-zone", default="America/Chicago", help="IANA name.")
        parser.add_argument(
            "--premium-workflows",
            action="store_true",
            help="Grant premium workflow actions (Sales Workflows, Auto routing).",
        )
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            validate_time_zone(options["time_zone"])
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from None
        account = create_account(
            options["name"], options["time_zone"], premium_workflows=options["premium_workflows"]
        )
        self.report(
            options,
            {
                "account": {
                    "id": account.pk,
                    "name": account.name,
                    "timeZone": account.time_zone,
                    "premiumWorkflows": account.premium_workflows,
                }
            },
            [
                f"Created account {account.pk}: {account.name} ({account.time_zone})"
                + (", premium workflow actions" if account.premium_workflows else ""),
                "Security groups: Administrators (every permission), Agents (Sales Enablement).",
            ],
        )
