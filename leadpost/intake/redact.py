"""SSNs out of everything but the encrypted `ssn` field (SPEC §9).

Two steps, both over every parameter whatever its name:
- `mask_ssn_shapes`: before parsing, an SSN-shaped value sent in any parameter but `ssn` is
  masked, so no record field, note, custom field, page or warning holds it in clear;
- `redact_params`: what the post log keeps of a post: SSNs masked, base64 bodies replaced by their
  size and SHA-256, the rest as sent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from leadpost.consent.evidence import nine_digits_are_ordinary
from leadpost.lib.problems import Problem, listed, quoted
from leadpost.lib.ssn import mask_ssn, mask_ssn_value, normalise_ssn, redact_ssn_like
from leadpost.lib.tokens import PREFIX_LENGTH

# Case-insensitive: "Attachment_Note_1_File_Body_1" is an unknown parameter, but it is still a file.
_FILE_BODY = re.compile(r"attachment_note_[0-9]+_file_body_[0-9]+", re.IGNORECASE)
_FILE_URL = re.compile(r"attachment_note_[0-9]+_file_url_[0-9]+", re.IGNORECASE)
# Where nine digits alone are an ordinary value (a ZIP+4 without its dash, a vendor's id).
_NINE_DIGITS_ORDINARY = frozenset({"zip", "externalID"})


def _nine_digits_are_ssn(name: str, value: str) -> bool:
    # A TrustedForm certificate id or a LeadiD token of its exact shape (SPEC §14) holds nine
    # digits in a row now and then: they are part of the id, and masking them would drop it.
    return name not in _NINE_DIGITS_ORDINARY and not nine_digits_are_ordinary(name, value)


def mask_ssn_shapes(params: Mapping[str, str]) -> tuple[dict[str, str], list[Problem]]:
    """The parameters with SSN-shaped values masked (`***-**-6789`), and a warning naming them.

    Left as sent: `ssn` itself (encrypted by the action), base64 file bodies (their alphabet makes
    digit runs that are not numbers), and file URLs (masking would fetch another file; the post
    log masks them instead).
    """
    masked: dict[str, str] = {}
    touched: list[str] = []
    for name, value in params.items():
        if name == "ssn" or _FILE_BODY.fullmatch(name) or _FILE_URL.fullmatch(name):
            masked[name] = value
            continue
        safe = mask_ssn_value(value, nine_digits=_nine_digits_are_ssn(name, value))
        if safe is not value and safe != value:
            touched.append(name)
        masked[name] = safe
    if not touched:
        return masked, []
    names = listed([quoted(name) for name in touched])
    field = touched[0] if len(touched) == 1 else None
    message = (
        f"{names}: a value shaped like an SSN was masked (***-**-dddd) and kept only masked; "
        "send an SSN in the ssn parameter, where it is stored encrypted"
    )
    return masked, [Problem(field, "ssn_masked", message)]


def _file_body_summary(value: str) -> dict[str, object]:
    sent = value.encode("utf-8", "surrogatepass")
    return {"redacted": "base64", "bytes": len(sent), "sha256": hashlib.sha256(sent).hexdigest()}


def redact_value(name: str, value: str, *, masked: bool = False) -> object:
    """What the post log stores for parameter `name` sent with `value` (`masked`: the value has
    been through `mask_ssn_shapes` already)."""
    if name == "ssn":
        digits = normalise_ssn(value)
        return mask_ssn(digits) if digits is not None else redact_ssn_like(value)
    if _FILE_BODY.fullmatch(name):
        # Size and hash identify the file a vendor sent without the log holding 64 MiB of it.
        return _file_body_summary(value)
    if _names_a_secret(name):
        return redact_ssn_like(value)
    if masked and not _FILE_URL.fullmatch(name):
        return value
    return mask_ssn_value(value, nine_digits=_nine_digits_are_ssn(name, value))


def _names_a_secret(name: str) -> bool:
    # Over-matches on purpose ("businessName" contains "ssn"): only digits are hidden, so a false
    # match costs a little debugging comfort, a missed one an SSN in clear (SPEC §9).
    lowered = name.lower()
    return "ssn" in lowered or "social" in lowered


def redact_params(params: Mapping[str, str], *, masked: bool = False) -> dict[str, object]:
    """The parameters for the post log: SSNs masked, base64 file bodies by size and SHA-256.

    `masked`: `params` come from `mask_ssn_shapes`, whose masking is not done twice.
    """
    return {
        mask_ssn_value(name): redact_value(name, value, masked=masked)
        for name, value in params.items()
    }


def mask_token(params: Mapping[str, str], token: str) -> tuple[dict[str, str], list[Problem]]:
    """The parameters with this URL's own token cut to its first characters wherever a careless
    vendor pasted it (its URL in a note, the token as a parameter's name): after this nothing of
    the post, the post log, a page, an e-mail or a webhook holds it (SPEC §9)."""
    if not token or not any(token in name or token in value for name, value in params.items()):
        return dict(params), []
    shown = token[:PREFIX_LENGTH] + "…"
    masked = {
        name.replace(token, shown): value.replace(token, shown) for name, value in params.items()
    }
    message = (
        "This Lead Post URL's token was sent in the lead; it was kept cut to its first "
        f"{PREFIX_LENGTH} characters. The token is a secret: send it in the URL only"
    )
    return masked, [Problem(None, "token_masked", message)]
