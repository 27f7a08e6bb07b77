from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from leadpost.accounts.commands import api_token_json, get_api_token
from leadpost.accounts.models import ApiToken
from leadpost.lib.commands import OperatorCommand, printable, when
from leadpost.lib.tokens import PREFIX_LENGTH


class Command(OperatorCommand):
    help = (
        "Revoke a read-API token: its next request gets 401. Revoking a revoked token changes "
        "nothing; a revoked token cannot be brought back (issue a new one)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "token_id", metavar="TOKEN_ID", help="The token's id (see: list-api-tokens)."
        )
        parser.add_argument(
            "--account", help="Refuse unless the token belongs to this account (for scripts)."
        )
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        row = get_api_token(options["token_id"], options["account"])
        changed = ApiToken.objects.filter(pk=row.pk).revoke() == 1
        row.refresh_from_db(fields=["revoked_at"])
        name = (
            f"API token {row.pk} ({printable(row.label) or 'no label'}, "
            f"{row.prefix[:PREFIX_LENGTH]}…) of account {row.account_id} "
            f"({printable(row.account.name)})"
        )
        self.report(
            options,
            {"apiToken": api_token_json(row), "changed": changed},
            [
                f"Revoked {name}: its requests now get 401."
                if changed
                else f"{name} was already revoked on {when(row.revoked_at)}; nothing changed."
            ],
        )
