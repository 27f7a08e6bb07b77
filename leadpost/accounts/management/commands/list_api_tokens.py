from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from leadpost.accounts.commands import api_token_json, api_token_line, get_account
from leadpost.accounts.models import ApiToken
from leadpost.lib.commands import OperatorCommand, printable


class Command(OperatorCommand):
    help = (
        "List an account's read-API tokens: id, label, the token's first 6 characters, created, "
        "last used and revoked times (the token itself was shown once, when issued)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", required=True, help="The account's id.")
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        account = get_account(options["account"])
        rows = list(ApiToken.objects.filter(account=account).order_by("id"))
        self.report(
            options,
            {
                "account": {"id": account.pk, "name": account.name},
                "apiTokens": [api_token_json(row) for row in rows],
            },
            [f"API tokens of account {account.pk} ({printable(account.name)}):"]
            + [api_token_line(row) for row in rows]
            if rows
            else [
                f"Account {account.pk} ({printable(account.name)}) has no API token yet "
                f"(leadpost issue-api-token --account {account.pk})."
            ],
        )
