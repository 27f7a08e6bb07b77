"""A record's consent evidence as the read API, webhooks and the record page show it (SPEC §14)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils.html import format_html, format_html_join

from leadpost.consent.models import ClaimState, ConsentEvidence


def evidence_of(record: Any) -> ConsentEvidence | None:
    try:
        evidence: ConsentEvidence = record.consent
    except ObjectDoesNotExist:
        return None
    return evidence


def _when(value: Any) -> str | None:
    return value.isoformat() if value else None


def _claim_json(evidence: ConsentEvidence) -> dict[str, Any] | None:
    if evidence.claim_state == ClaimState.NO_CERTIFICATE:
        return None
    return {
        "state": evidence.claim_state,
        "attempts": evidence.claim_attempts,
        "claimedAt": _when(evidence.claimed_at),
        "expiresAt": _when(evidence.claim_expires_at),
        "pageUrl": evidence.claim_page_url or None,
        "consentText": evidence.claim_consent_text or None,
        "error": evidence.claim_error or None,
    }


# ConsentEvidence field -> its key in the API's JSON.
_KEYS = {
    "trustedform_cert_url": "trustedFormCertUrl",
    "leadid_token": "leadiDToken",
    "tcpa_consent_text": "tcpaConsentText",
    "ip_address": "ipAddress",
    "landing_page_url": "landingPageUrl",
}


# The evidence's keys in the API's JSON, in order (the OpenAPI document describes these).
CONSENT_KEYS = tuple(_KEYS.values())


def evidence_json(values: Mapping[str, str]) -> dict[str, Any]:
    """The evidence values (field -> value) with the API's keys; a dry run's answer shows them."""
    return {key: values.get(name) or None for name, key in _KEYS.items()}


def consent_json(record: Any) -> dict[str, Any] | None:
    """The record's `consent` in the API's JSON; None when the post carried none."""
    evidence = evidence_of(record)
    if evidence is None:
        return None
    data = evidence_json({name: getattr(evidence, name) for name in _KEYS})
    data["claim"] = _claim_json(evidence)
    return data


def _claim_words(evidence: ConsentEvidence) -> str:
    state = evidence.claim_state
    if state == ClaimState.CLAIMED:
        expires = _when(evidence.claim_expires_at)
        return format_html(
            "claimed {}{}",
            _when(evidence.claimed_at) or "",
            f"; expires {expires}" if expires else "",
        )
    if state == ClaimState.PENDING:
        if evidence.claim_error:
            return format_html(
                "pending, will retry (tries: {}); last error: {}",
                evidence.claim_attempts,
                evidence.claim_error,
            )
        return "waiting to be claimed"
    if state in (ClaimState.FAILED, ClaimState.EXPIRED):
        return format_html("{}: {}", state, evidence.claim_error or "")
    return str(ClaimState(state).label)


def consent_html(record: Any) -> str:
    """The record page's "consent evidence" line: each value sent, and the claim's outcome."""
    evidence = evidence_of(record)
    if evidence is None:
        return "—"
    rows: list[tuple[str, str]] = [
        (label, value)
        for label, value in (
            ("TrustedForm certificate", evidence.trustedform_cert_url),
            ("LeadiD token", evidence.leadid_token),
            ("TCPA consent text", evidence.tcpa_consent_text),
            ("consumer's IP address", evidence.ip_address),
            ("landing page", evidence.landing_page_url),
        )
        if value
    ]
    if evidence.claim_state != ClaimState.NO_CERTIFICATE:
        rows.append(("TrustedForm claim", _claim_words(evidence)))
        if evidence.claim_page_url:
            rows.append(("page URL on the certificate", evidence.claim_page_url))
        if evidence.claim_consent_text:
            rows.append(("consent text on the certificate", evidence.claim_consent_text))
    return format_html(
        '<table id="consent-evidence">{}</table>',
        format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
    )
