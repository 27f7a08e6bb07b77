"""A record's consent evidence and the state of its TrustedForm claim (SPEC §14)."""

from __future__ import annotations

from django.db import models


class ClaimState(models.TextChoices):
    NO_CERTIFICATE = "", "no certificate"
    NO_KEY = "no_key", "not claimed: the account has no TrustedForm API key"
    PENDING = "pending", "pending"
    CLAIMED = "claimed", "claimed"
    EXPIRED = "expired", "expired"
    FAILED = "failed", "failed"


class ConsentEvidence(models.Model):
    """What a post carried as TCPA consent evidence, one row per record that had any.

    Only posts with evidence write this row, so a post without any costs no statement more. The
    claim's columns are the truth about the TrustedForm claim (state, attempts, lease, last
    error), as an attachment's are about its download: the task only nudges the row.
    """

    record = models.OneToOneField(
        "records.Record", on_delete=models.CASCADE, primary_key=True, related_name="consent"
    )
    trustedform_cert_url = models.CharField("TrustedForm certificate", max_length=300, blank=True)
    leadid_token = models.CharField("LeadiD token", max_length=64, blank=True)
    tcpa_consent_text = models.TextField("TCPA consent text", blank=True)
    ip_address = models.CharField("consumer's IP address", max_length=45, blank=True)
    landing_page_url = models.CharField("landing page", max_length=2048, blank=True)

    claim_state = models.CharField(
        max_length=10, choices=ClaimState.choices, blank=True, default=ClaimState.NO_CERTIFICATE
    )
    claim_attempts = models.PositiveSmallIntegerField(default=0)
    claim_next_attempt_at = models.DateTimeField(null=True, blank=True)
    # While a worker claims, it holds the lease; an expired lease means the worker died.
    claim_lease_until = models.DateTimeField(null=True, blank=True)
    claim_lease_token = models.CharField(max_length=32, blank=True, editable=False)
    # Never holds the API key: written only from our own messages (consent/trustedform.py).
    claim_error = models.CharField(max_length=1000, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    claim_page_url = models.CharField(max_length=2048, blank=True)
    claim_consent_text = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "consent evidence"
        indexes = [
            models.Index(fields=["claim_state", "claim_next_attempt_at"], name="consent_claim_due")
        ]

    def __str__(self) -> str:
        return f"consent evidence of record {self.record_id}"
