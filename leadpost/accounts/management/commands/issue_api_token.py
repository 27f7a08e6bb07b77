from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from leadpost.accounts.commands import get_account
from leadpost.accounts.models import ApiToken
from leadpost.lib.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Issue a read-API token for an account. The token is printed once, here."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", required=True, help="The account's id.")
        parser.add_argument("--label", default="", help="Who uses it, e.g. the CRM's name.")
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        account = get_account(options["account"])
        row, token = ApiToken.issue(account, options["label"])
        self.report(
            options,
            {"apiToken": {"id": row.pk, "account": account.pk, "token": token}},
            [
                f"API token {row.pk} for account {account.pk} (shown once, keep it safe):",
                token,
            ],
        )
