from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from leadpost.intake.commands import get_lead_post_url, url_json, url_name
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.commands import OperatorCommand, when


class Command(OperatorCommand):
    help = (
        "Disable a Lead Post URL: from its next post on it gets the 404 of an unknown URL, and "
        "nothing is logged. Disabling a disabled URL changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url_id", metavar="URL_ID", help="The URL's id (see: list-urls).")
        parser.add_argument(
            "--account", help="Refuse unless the URL belongs to this account (for scripts)."
        )
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        row = get_lead_post_url(options["url_id"], options["account"])
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
