from __future__ import annotations

from typing import Any

from leadpost.intake.commands import UrlCommand, url_json, url_name
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.commands import when


class Command(UrlCommand):
    help = (
        "Disable a Lead Post URL: from its next post on it gets the 404 of an unknown URL, and "
        "nothing is logged. Disabling a disabled URL changes nothing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        row = self.lead_post_url(options)
        changed = LeadPostUrl.objects.filter(pk=row.pk).disable() == 1
        row.refresh_from_db(fields=["enabled", "disabled_at"])
        self.report(
            options,
            {"leadPostUrl": url_json(row), "changed": changed},
            [
                f"Disabled {url_name(row)}: its posts now get 404."
                if changed
                else f"{url_name(row)} was already disabled (since "
                f"{when(row.disabled_at, never='an unknown time')}); nothing changed."
            ],
        )
