"""The signature of a webhook delivery (SPEC §12, Stripe's scheme).

`Leadpost-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` keyed with the
subscription's secret. The time is signed with the body, so a receiver that refuses old
timestamps refuses a replayed delivery too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
HEADER = "Leadpost-Signature"
EVENT_ID_HEADER = "Leadpost-Event-Id"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (and the page's examples show): any v1 that matches, and a timestamp
    no older than `tolerance` seconds."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v.strip() for k, v in parts if k.strip() == "t"]
    # ASCII digits only: int() also reads other scripts' digits ("١٢٣"), which no sender sends.
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()):
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).split(",v1=", 1)[1].encode()
    # Bytes: compare_digest refuses (TypeError) a str holding non-ASCII, as a hostile v1 may.
    return any(
        k.strip() == "v1" and hmac.compare_digest(v.strip().encode(), expected) for k, v in parts
    )
