"""Claiming a TrustedForm certificate (SPEC §14), through the safe fetch's rules (SPEC §8).

TrustedForm's claim API: a POST to the certificate URL itself, HTTP Basic auth with the user `API`
and the account's API key, `Accept: application/json`; a 200/201 answer is JSON with the claim's
`expires_at` and the certificate (`cert`: its page URL in `page_url` or `location`). The key goes
only to TrustedForm's own host (settings.LEADPOST_TRUSTEDFORM_BASE, a test server in tests), never
into a message: every error text here is written by us, from the status and our own words.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.utils.dateparse import parse_datetime

from leadpost.consent.evidence import MAX_CONSENT_TEXT, MAX_LANDING_URL
from leadpost.lib.fetch import Answer, Failed, FetchError, Policy, Transient, send
from leadpost.lib.ssn import mask_ssn_text

# A claim's answer is a few KiB of JSON; anything much larger is not one.
MAX_ANSWER_BYTES = 256 * 1024
_RETRIED = frozenset({408, 429})


class Expired(Failed):
    """TrustedForm says the certificate can no longer be claimed."""


@dataclass(frozen=True, slots=True)
class Claim:
    """What a claimed certificate says."""

    expires_at: dt.datetime | None
    page_url: str
    consent_text: str


def claim_url(cert_id: str) -> str:
    return f"{settings.LEADPOST_TRUSTEDFORM_BASE}{cert_id}"


def policy() -> Policy:
    return Policy(
        max_bytes=MAX_ANSWER_BYTES,
        timeout=settings.LEADPOST_FETCH_TIMEOUT,
        max_redirects=0,
        allow_loopback=settings.LEADPOST_FETCH_ALLOW_LOOPBACK,
    )


def claim(cert_id: str, api_key: str, *, reference: str) -> Claim:
    """Claim the certificate; raises Transient (worth retrying), Expired or another FetchError."""
    auth = base64.b64encode(f"API:{api_key}".encode()).decode()
    answer = send(
        claim_url(cert_id),
        urlencode({"reference": reference}).encode(),
        {
            "Authorization": f"Basic {auth}",
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "Leadpost TrustedForm claim",
        },
        policy(),
        head_bytes=MAX_ANSWER_BYTES + 1,
    )
    return _read(answer)


def _read(answer: Answer) -> Claim:
    status = answer.status
    if status in _RETRIED or status >= 500:
        raise Transient(f"TrustedForm answered HTTP {status}")
    if status in (401, 403):
        raise Failed(
            f"TrustedForm refused the API key (HTTP {status}): check the account's TrustedForm "
            "API key"
        )
    if status == 404:
        raise Failed("TrustedForm knows no such certificate (HTTP 404)")
    if status == 410:
        raise Expired("the certificate has expired (HTTP 410)")
    if 300 <= status < 400:
        raise Failed(f"TrustedForm answered a redirect (HTTP {status}), which is not followed")
    if not 200 <= status < 300:
        raise Failed(f"TrustedForm answered HTTP {status}")
    if len(answer.head) > MAX_ANSWER_BYTES:
        raise Failed(f"TrustedForm's answer is larger than {MAX_ANSWER_BYTES} bytes")
    try:
        data = json.loads(answer.head)
    except ValueError:
        raise Failed("TrustedForm's answer is not JSON") from None
    if not isinstance(data, dict):
        raise Failed("TrustedForm's answer is not a JSON object")
    found = data.get("cert")
    cert: dict[str, Any] = found if isinstance(found, dict) else {}
    expires_at = _when(data.get("expires_at") or cert.get("expires_at"))
    page_url = _string(cert.get("page_url") or cert.get("location") or data.get("page_url"))
    consent = _string(
        data.get("consent_text") or cert.get("consent_text") or cert.get("snapshot") or ""
    )
    return Claim(expires_at, page_url[:MAX_LANDING_URL], consent[:MAX_CONSENT_TEXT])


def _string(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    # PostgreSQL refuses NUL in text; the answer is someone else's bytes, and may hold what the
    # consumer typed on the page: SSN shapes are masked before it is stored (SPEC §9).
    return mask_ssn_text(value.replace("\x00", "\ufffd"))


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed


__all__ = ["Claim", "Expired", "FetchError", "claim"]
