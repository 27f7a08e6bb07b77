from __future__ import annotations

from typing import Any

from django.db import transaction

from leadpost.lib.commands import OperatorCommand
from leadpost.lib.encryption import rotate_ssn
from leadpost.records.models import Record
from leadpost.webhooks.models import WebhookSubscription


class Command(OperatorCommand):
    help = (
        "Re-encrypt every stored SSN, and every webhook's signing secret, with the first key of "
        "LEADPOST_SSN_KEYS. Put the new key first, run this, then drop the old key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        done = 0
        last = 0
        while True:
            with transaction.atomic():
                batch = list(
                    Record.objects.filter(pk__gt=last)
                    .exclude(ssn_encrypted="")
                    .order_by("pk")
                    .only("pk", "ssn_encrypted")[:500]
                )
                if not batch:
                    break
                for record in batch:
                    record.ssn_encrypted = rotate_ssn(record.ssn_encrypted)
                Record.objects.bulk_update(batch, ["ssn_encrypted"])
            done += len(batch)
            last = batch[-1].pk
        with transaction.atomic():
            webhooks = list(
                WebhookSubscription.objects.select_for_update().only("secret_encrypted")
            )
            for webhook in webhooks:
                webhook.secret_encrypted = rotate_ssn(webhook.secret_encrypted)
            WebhookSubscription.objects.bulk_update(webhooks, ["secret_encrypted"])
        self.report(
            options,
            {"reencrypted": done, "webhook_secrets": len(webhooks)},
            [f"Re-encrypted {done} SSNs and {len(webhooks)} webhook secrets."],
        )
