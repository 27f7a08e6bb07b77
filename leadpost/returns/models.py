"""Records returned to their vendors (SPEC §14)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from leadpost.accounts.models import Account
from leadpost.intake.models import LeadPostUrl
from leadpost.records.models import Record


class ReturnReason(models.TextChoices):
    """Why staff return a lead (SPEC §14): the words the vendor reads on the report."""

    DUPLICATE = "duplicate", "Duplicate"
    BAD_PHONE = "bad_phone", "Bad phone"
    WRONG_STATE = "wrong_state", "Wrong state"
    NO_CONSENT = "no_consent", "No consent"
    FAKE = "fake", "Fake"
    OTHER = "other", "Other"


class RecordReturn(models.Model):
    """A record returned to the vendor of the Lead Post URL it came by.

    One per record (an undo deletes it, on the day it was made only: after that the vendor may
    have been told). `returned_on` is the account's local day of the return, kept so the undo's
    rule does not move when the account's time zone does.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    record = models.OneToOneField(Record, on_delete=models.CASCADE, related_name="vendor_return")
    # The record's URL when it was returned: the report groups by it.
    lead_post_url = models.ForeignKey(LeadPostUrl, on_delete=models.CASCADE, related_name="returns")
    reason = models.CharField(max_length=20, choices=ReturnReason.choices)
    note = models.TextField(blank=True)
    returned_at = models.DateTimeField(default=timezone.now)
    returned_on = models.DateField()
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-returned_at", "-id"]

    def __str__(self) -> str:
        return f"Record {self.record_id} returned ({self.reason})"
