from __future__ import annotations

from typing import Any

from leadpost.accounts.models import Account
from leadpost.lib.commands import OperatorCommand


class Command(OperatorCommand):
    help = "List accounts with their ids."

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = list(Account.objects.order_by("id"))
        self.report(
            options,
            {
                "accounts": [
                    {
                        "id": a.pk,
                        "name": a.name,
                        "timeZone": a.time_zone,
                        "recordMode": a.record_mode,
                    }
                    for a in accounts
                ]
            },
            [f"{a.pk}\t{a.name}\t{a.time_zone}\t{a.record_mode}" for a in accounts]
            or ["No accounts yet (leadpost create-account NAME)."],
        )
