from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from leadpost.accounts.commands import get_account
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Issue a Lead Post URL for an account and a vendor. The URL is printed once, here."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", required=True, help="The account's id.")
        parser.add_argument("--label", required=True, help="The vendor's name, e.g. Datalot.")
        parser.add_argument("--lead-source", default="", help="Default lead source of its posts.")
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        account = get_account(options["account"])
        row, token = LeadPostUrl.issue(account, options["label"], options["lead_source"])
        url = LeadPostUrl.full_url(token)
        self.report(
            options,
            {
                "leadPostUrl": {
                    "id": row.pk,
                    "account": account.pk,
                    "label": row.label,
                    "url": url,
                    "token": token,
                    "testUrl": f"{url}/test",
                }
            },
            [
                f"Lead Post URL {row.pk} for {account.name} / {row.label} (shown once, keep it secret):",
                url,
                f"Dry run (stores nothing): {url}/test",
            ],
        )
