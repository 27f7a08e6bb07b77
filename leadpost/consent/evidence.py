"""The TCPA consent evidence a post may carry (SPEC §14), checked without the database.

Each check returns the value to store, normalised, or None when it breaks its rule (the parser then
drops it with a warning, SPEC §4). No check raises, whatever was sent.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

TRUSTEDFORM_HOST = "cert.trustedform.com"
TRUSTEDFORM_PREFIX = f"https://{TRUSTEDFORM_HOST}/"

# TrustedForm's certificate ids are 40 hex digits today; its API allows other formats of up to 255
# characters, so letters, digits, "_" and "-" are accepted, from 20 characters (no real id is
# shorter, and a short all-digit "id" is more likely an SSN pasted in the wrong field).
_CERT_ID = re.compile(r"[A-Za-z0-9_-]{20,255}")
MAX_CERT_URL = len(TRUSTEDFORM_PREFIX) + 255
# Today's id shape, the only one whose nine digits in a row are spared SSN masking: in any other
# shape ("ssn_123456789_...") they may be an SSN, and are masked (the id then fails _CERT_ID).
_HEX_CERT_ID = re.compile(r"[0-9a-fA-F]{40}")
# Jornaya LeadiD tokens are UUIDs written in capitals; hex digits and dashes, nothing else.
_LEADID = re.compile(r"[0-9A-Fa-f](?:[0-9A-Fa-f-]{6,62})[0-9A-Fa-f]")
MAX_LEADID = 64
# A whole UUID (8-4-4-4-12, or its 32 digits without dashes).
_UUID = re.compile(r"[0-9A-Fa-f]{8}-?(?:[0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}")
MAX_IP = 45  # the longest IPv6 text form (IPv4-mapped)
MAX_LANDING_URL = 2048  # what browsers and CDNs reliably carry
MAX_CONSENT_TEXT = 5000
# Printable ASCII without the space: a URL as a browser sends it.
_URL_CHARS = re.compile(r"[!-~]+")
_NO_SPACE = re.compile(r"\S+")


def trustedform_cert_id(value: str) -> str | None:
    """The certificate id of `https://cert.trustedform.com/<id>`, or None.

    The URL is parsed, not prefix-matched: no userinfo (`https://cert.trustedform.com@evil.com/`),
    no other host (`cert.trustedform.com.evil.com`), no port, no query or fragment: the claim sends
    the account's API key to this address (SPEC §14: only URLs under https://cert.trustedform.com/).
    """
    if len(value) > MAX_CERT_URL or _URL_CHARS.fullmatch(value) is None:
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() != "https" or parts.netloc.lower() != TRUSTEDFORM_HOST:
        return None
    if parts.query or parts.fragment or "?" in value or "#" in value:
        return None
    if not parts.path.startswith("/") or _CERT_ID.fullmatch(parts.path[1:]) is None:
        return None
    return parts.path[1:]


def trustedform_cert_url(value: str) -> str | None:
    """`value` as the canonical certificate URL, or None when it is not one."""
    cert_id = trustedform_cert_id(value)
    return None if cert_id is None else TRUSTEDFORM_PREFIX + cert_id


def leadid_token(value: str) -> str | None:
    """A Jornaya LeadiD token in capitals, or None."""
    if len(value) > MAX_LEADID or _LEADID.fullmatch(value) is None or "--" in value:
        return None
    return value.upper()


def ip_address(value: str) -> str | None:
    """The consumer's IPv4 or IPv6 address in its standard text form, or None (no zone ids)."""
    if len(value) > MAX_IP or "%" in value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def landing_page_url(value: str) -> str | None:
    """An http(s) URL with a host and no userinfo, as sent; None otherwise."""
    if len(value) > MAX_LANDING_URL or _NO_SPACE.fullmatch(value) is None:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or "@" in parts.netloc:
        return None
    return value


def consent_text(value: str) -> str | None:
    """The consent language as shown to the consumer, up to MAX_CONSENT_TEXT characters."""
    return value if len(value) <= MAX_CONSENT_TEXT else None


def nine_digits_are_ordinary(name: str, value: str) -> bool:
    """Whether nine digits in a row inside `value` are part of an identifier, not an SSN.

    A 40-hex-digit certificate id or a UUID holds a run of nine digits in about one case in
    twenty: masking it would drop good evidence. Only a value of the parameter's exact shape is
    spared (a certificate URL only with today's 40-hex-digit id); an SSN-shaped value of any
    other shape is still masked (SPEC §9).
    """
    if name in CERT_URL_PARAMETERS:
        cert_id = trustedform_cert_id(value.strip())
        return cert_id is not None and _HEX_CERT_ID.fullmatch(cert_id) is not None
    if name in LEADID_PARAMETERS:
        return _UUID.fullmatch(value.strip()) is not None
    return False


# The parameters, the first name of each pair being the one TrustedForm's and Jornaya's scripts
# write in the vendor's form; the second their documented alternative.
CERT_URL_PARAMETERS = ("xxTrustedFormCertUrl", "trustedFormCertUrl")
LEADID_PARAMETERS = ("leadid_token", "universal_leadid")
