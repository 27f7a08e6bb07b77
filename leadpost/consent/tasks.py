"""Claiming TrustedForm certificates in the background (SPEC §14), run by `leadpost worker`.

As with attachment downloads (records/tasks.py), the evidence row is the truth (state, attempts,
lease, last error); the task only nudges it, and `sweep_claims` finds work a dead worker left.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.tasks import task
from django.utils import timezone

from leadpost.consent.evidence import trustedform_cert_id
from leadpost.consent.models import ClaimState, ConsentEvidence
from leadpost.consent.trustedform import Expired, FetchError, claim
from leadpost.lib.encryption import decrypt_secret
from leadpost.records.tasks import fetch_backoff

logger = logging.getLogger(__name__)


@task()
def claim_certificate(record_id: int) -> str:
    """One attempt at claiming a record's TrustedForm certificate; the row says what happened."""
    return attempt(record_id)


def _take(record_id: int, now: dt.datetime) -> str | None:
    """Take the claim of a pending certificate for a lease; None when not ours to do."""
    token = uuid.uuid4().hex
    lease = dt.timedelta(seconds=settings.LEADPOST_ATTACHMENT_LEASE_SECONDS)
    taken = (
        ConsentEvidence.objects.filter(pk=record_id, claim_state=ClaimState.PENDING)
        .filter(Q(claim_lease_until__isnull=True) | Q(claim_lease_until__lt=now))
        .filter(Q(claim_next_attempt_at__isnull=True) | Q(claim_next_attempt_at__lte=now))
        .update(
            claim_lease_until=now + lease,
            claim_lease_token=token,
            claim_attempts=F("claim_attempts") + 1,
        )
    )
    return token if taken else None


def attempt(record_id: int) -> str:
    """Run one claim attempt; returns the claim's state afterwards (for the task log)."""
    token = _take(record_id, timezone.now())
    if token is None:
        return "not taken"
    evidence = ConsentEvidence.objects.select_related("record__account").get(pk=record_id)
    mine = ConsentEvidence.objects.filter(
        pk=record_id, claim_state=ClaimState.PENDING, claim_lease_token=token
    )
    encrypted = evidence.record.account.trustedform_api_key
    cert_id = trustedform_cert_id(evidence.trustedform_cert_url)
    if not encrypted or cert_id is None:
        # The key was cleared since the post: nothing to claim with.
        mine.update(claim_state=ClaimState.NO_KEY, claim_lease_until=None, claim_lease_token="")
        return ClaimState.NO_KEY
    try:
        claimed = claim(cert_id, decrypt_secret(encrypted), reference=str(record_id))
    except Expired as exc:
        mine.update(
            claim_state=ClaimState.EXPIRED,
            claim_error=str(exc)[:1000],
            claim_lease_until=None,
            claim_lease_token="",
        )
        return ClaimState.EXPIRED
    except FetchError as exc:
        return _failed_attempt(evidence, token, exc)
    now = timezone.now()
    expired = claimed.expires_at is not None and claimed.expires_at <= now
    mine.update(
        claim_state=ClaimState.EXPIRED if expired else ClaimState.CLAIMED,
        claimed_at=None if expired else now,
        claim_expires_at=claimed.expires_at,
        claim_page_url=claimed.page_url,
        claim_consent_text=claimed.consent_text,
        claim_error="the certificate had expired when it was claimed" if expired else "",
        claim_lease_until=None,
        claim_lease_token="",
    )
    return ClaimState.EXPIRED if expired else ClaimState.CLAIMED


def _failed_attempt(evidence: ConsentEvidence, token: str, exc: FetchError) -> str:
    reason = str(exc)[:1000]
    attempts = evidence.claim_attempts
    mine = ConsentEvidence.objects.filter(
        pk=evidence.pk, claim_state=ClaimState.PENDING, claim_lease_token=token
    )
    if exc.retry and attempts < settings.LEADPOST_FETCH_MAX_TRIES:
        later = timezone.now() + fetch_backoff(attempts)
        with transaction.atomic():
            if mine.update(
                claim_error=reason,
                claim_next_attempt_at=later,
                claim_lease_until=None,
                claim_lease_token="",
            ):
                claim_certificate.using(run_after=later).enqueue(evidence.pk)
        return ClaimState.PENDING
    if exc.retry:
        reason = f"gave up after {attempts} tries: {reason}"[:1000]
    mine.update(
        claim_state=ClaimState.FAILED,
        claim_error=reason,
        claim_lease_until=None,
        claim_lease_token="",
    )
    return ClaimState.FAILED


def sweep_claims(now: dt.datetime | None = None) -> int:
    """Find pending claims nobody is working on (a worker died, a task was lost) and nudge them."""
    now = now or timezone.now()
    grace = dt.timedelta(seconds=settings.LEADPOST_SWEEP_GRACE_SECONDS)
    stuck = list(
        ConsentEvidence.objects.filter(claim_state=ClaimState.PENDING)
        .filter(
            Q(claim_lease_until__lt=now)
            | Q(claim_lease_until__isnull=True, claim_next_attempt_at__lt=now - grace)
        )
        .values_list("pk", "claim_attempts", "claim_lease_until")[:500]
    )
    for pk, attempts, lease_until in stuck:
        row = ConsentEvidence.objects.filter(
            pk=pk, claim_state=ClaimState.PENDING, claim_lease_until=lease_until
        )
        if lease_until is not None and attempts >= settings.LEADPOST_FETCH_MAX_TRIES:
            row.update(
                claim_state=ClaimState.FAILED,
                claim_error=f"gave up after {attempts} tries: the worker stopped during the claim",
                claim_lease_until=None,
                claim_lease_token="",
            )
            continue
        with transaction.atomic():
            # Only if nobody took it since it was listed: a fresh lease must not be broken.
            if row.update(claim_lease_until=None, claim_lease_token="", claim_next_attempt_at=now):
                claim_certificate.enqueue(pk)
    if stuck:
        logger.info("sweep: nudged %d stuck TrustedForm claim(s)", len(stuck))
    return len(stuck)
