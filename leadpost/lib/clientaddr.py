"""Who is on the other end of a request: the client address, as far as HTTP can tell."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings


def valid_ip(text: str | None) -> str | None:
    """`text` as a normalised IP address, or None when it is not one ("unknown", "", garbage).

    Whatever a client or a proxy puts in a header ends up in an `inet` column on PostgreSQL,
    which refuses anything that is not an address: the check happens here, once.
    """
    if not text:
        return None
    candidate = text.strip()
    if candidate.startswith("[") and "]" in candidate:  # "[2001:db8::1]:443"
        candidate = candidate[1 : candidate.index("]")]
    elif candidate.count(":") == 1:  # "203.0.113.7:51234"
        candidate = candidate.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(candidate.split("%", 1)[0]))
    except ValueError:
        return None


def client_ip(meta: Mapping[str, Any]) -> str | None:
    """The client's address for a request's META (WSGI environ).

    Behind our load balancer (`LEADPOST_BEHIND_PROXY=1`) the last `X-Forwarded-For` hop is the one
    the balancer appended; earlier hops are whatever the client claimed, so they are never used.
    A last hop that is not an address falls back to the connecting peer.
    """
    peer = valid_ip(meta.get("REMOTE_ADDR"))
    if not getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        return peer
    forwarded = str(meta.get("HTTP_X_FORWARDED_FOR", ""))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if hops:
        return valid_ip(hops[-1]) or peer
    return peer
