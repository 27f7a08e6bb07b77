"""Counters of what each Lead Post URL's vendor sent, per day of the account (SPEC §13).

Nothing here is written by a post. The post log is the lead path's only write about a post; the
roll-up (`rollup.py`) adds each closed day of it into `VendorDay` rows, and the figures are those
rows plus the post log's rows the roll-up has not reached yet (`figures.py`). So no row is updated
by every concurrent post of a URL (a lock that would serialise a vendor's posts on PostgreSQL),
and the counts survive the post log's purge, which adds what it deletes before it deletes it.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from leadpost.accounts.models import Account
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.choices import RecordType


class VendorDay(models.Model):
    """What one URL's posts of one day of the account's time zone came to, in one record mode.

    Split by record mode because a post made in Sales Record mode is Sales Enablement data
    (SPEC §10): users without it see the Individual mode's figures only.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    lead_post_url = models.ForeignKey(
        LeadPostUrl, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    record_mode = models.CharField(max_length=20, choices=RecordType.choices)
    # {result: posts}; dry runs under "test".
    results = models.JSONField(default=dict)
    # {"field code": [posts, example]}: see counts.Counts.
    warnings = models.JSONField(default=dict)
    # Posts per answer-time bucket (counts.TIME_BOUNDS_MS).
    times = models.JSONField(default=list)
    # {agent id: records} of created records' servicing agents ("" for none).
    agents = models.JSONField(default=dict)
    attachments_stored = models.PositiveIntegerField(default=0)
    attachments_failed = models.PositiveIntegerField(default=0)
    spend_cents = models.BigIntegerField(default=0)
    # Created records flagged as possible cross-vendor duplicates (SPEC §14).
    possible_duplicates = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["lead_post_url", "day", "record_mode"], name="vendor_day_unique"
            )
        ]
        indexes = [models.Index(fields=["account", "day"])]

    def __str__(self) -> str:
        return f"URL {self.lead_post_url_id} on {self.day} ({self.record_mode})"


class RolledUp(models.Model):
    """How far the roll-up has read an account's post log.

    Every post-log row received before `until` is in `VendorDay` rows, and none after it is
    (but rows the purge added before deleting them). `version` moves with every change to the
    account's `VendorDay` rows, so a reader can tell that it read them and the post log at one
    moment (figures.py).
    """

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    until = models.DateTimeField(default=timezone.now)
    version = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.account_id} rolled up until {self.until:%Y-%m-%d %H:%M}"
