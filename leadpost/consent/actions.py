"""Storing a post's consent evidence with its record (SPEC §14)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from leadpost.accounts.models import Account
from leadpost.consent.models import ClaimState, ConsentEvidence
from leadpost.consent.tasks import claim_certificate
from leadpost.lib import fastsql


def store_evidence(
    record_id: int, account: Account, values: Mapping[str, str], *, now: dt.datetime
) -> ConsentEvidence:
    """The record's evidence row (`values`: model field -> checked value), in the caller's
    transaction; with a certificate and the account's API key, its claim is enqueued with it, so a
    200 always has its claim job."""
    evidence = ConsentEvidence(record_id=record_id, **values)
    if evidence.trustedform_cert_url:
        if account.trustedform_api_key:
            evidence.claim_state = ClaimState.PENDING
            # Due now: a claim whose task is lost is found by the sweep from this time on.
            evidence.claim_next_attempt_at = now
        else:
            evidence.claim_state = ClaimState.NO_KEY
    fastsql.insert(evidence)
    if evidence.claim_state == ClaimState.PENDING:
        claim_certificate.enqueue(record_id)
    return evidence
