from __future__ import annotations

from typing import Any

from leadpost.intake.commands import UrlCommand, url_json, url_name
from leadpost.intake.models import LeadPostUrl


class Command(UrlCommand):
    help = (
        "Enable a disabled Lead Post URL: its next post is taken again. Enabling an enabled URL "
        "changes nothing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        row = self.lead_post_url(options)
        changed = LeadPostUrl.objects.filter(pk=row.pk).enable() == 1
        row.refresh_from_db(fields=["enabled", "disabled_at"])
        self.report(
            options,
            {"leadPostUrl": url_json(row), "changed": changed},
            [
                f"Enabled {url_name(row)}: its posts are taken again."
                if changed
                else f"{url_name(row)} was already enabled; nothing changed."
            ],
        )
