from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from leadpost.accounts.commands import get_account
from leadpost.intake.commands import counts_note, posts_by_result, url_json, url_lines
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.commands import OperatorCommand, iso, printable


class Command(OperatorCommand):
    help = (
        "List an account's Lead Post URLs: id, label, the token's first 6 characters, enabled, "
        "created, disabled and last post times, and counts of posts by result. The counts are "
        "read from the post log, so they cover only its retention "
        "(LEADPOST_POST_LOG_RETENTION_DAYS)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", required=True, help="The account's id.")
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        account = get_account(options["account"])
        rows = list(LeadPostUrl.objects.filter(account=account).with_post_counts().order_by("id"))
        note = counts_note()
        self.report(
            options,
            {
                "account": {"id": account.pk, "name": account.name},
                "countsCover": note,
                "leadPostUrls": [
                    {
                        **url_json(row),
                        "lastPostAt": iso(row.last_post_at),  # type: ignore[attr-defined]
                        "posts": posts_by_result(row),
                    }
                    for row in rows
                ],
            },
            [
                f"Lead Post URLs of account {account.pk} ({printable(account.name)}). {note}",
                *(line for row in rows for line in url_lines(row)),
            ]
            if rows
            else [
                f"Account {account.pk} ({printable(account.name)}) has no Lead Post URL yet "
                f"(leadpost issue-url --account {account.pk} --label VENDOR)."
            ],
        )
