from __future__ import annotations

from typing import Any

from leadpost.intake.commands import UrlCommand, url_name
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.tokens import PREFIX_LENGTH


class Command(UrlCommand):
    help = (
        "Give a Lead Post URL a new token: the old URL stops working at once; the label, "
        "settings and post log stay. The new URL is printed once, here."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        row = self.lead_post_url(options)
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
