from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from leadpost.intake.commands import get_lead_post_url, url_name
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.commands import OperatorCommand
from leadpost.lib.tokens import PREFIX_LENGTH


class Command(OperatorCommand):
    help = (
        "Give a Lead Post URL a new token: the old URL stops working at once; the label, "
        "settings and post log stay. The new URL is printed once, here."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url_id", metavar="URL_ID", help="The URL's id (see: list-urls).")
        parser.add_argument(
            "--account", help="Refuse unless the URL belongs to this account (for scripts)."
        )
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        row = get_lead_post_url(options["url_id"], options["account"])
        token = row.rotate()
        url = LeadPostUrl.full_url(token)
        lines = [
            f"New token for {url_name(row)}; the old URL no longer works. "
            "Shown once, keep it secret:",
            url,
            f"Dry run (stores nothing): {url}/test",
        ]
        if not row.enabled:
            lines.append(
                f"The URL is disabled: its posts get 404 until leadpost enable-url {row.pk}."
            )
        self.report(
            options,
            {
                "leadPostUrl": {
                    "id": row.pk,
                    "account": row.account_id,
                    "label": row.label,
                    "prefix": row.prefix[:PREFIX_LENGTH],
                    "enabled": row.enabled,
                    "url": url,
                    "token": token,
                    "testUrl": f"{url}/test",
                }
            },
            lines,
        )
