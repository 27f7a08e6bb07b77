"""The parameters of a post as the post log keeps them (SPEC §9): secrets out, the rest as sent."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from leadpost.intake.parse import CUSTOM_PREFIX, is_known_parameter
from leadpost.lib.ssn import SSN_LIKE, mask_ssn, normalise_ssn, redact_ssn_like

# Case-insensitive: "Attachment_Note_1_File_Body_1" is an unknown parameter, but it is still a file.
_FILE_BODY = re.compile(r"attachment_note_[0-9]+_file_body_[0-9]+", re.IGNORECASE)


def _names_a_secret(name: str) -> bool:
    # Over-matches on purpose ("businessName" contains "ssn"): only digits are hidden, so a false
    # match costs a little debugging comfort, a missed one an SSN in clear (SPEC §9).
    lowered = name.lower()
    return "ssn" in lowered or "social" in lowered


def _file_body_summary(value: str) -> dict[str, object]:
    sent = value.encode("utf-8")
    return {"redacted": "base64", "bytes": len(sent), "sha256": hashlib.sha256(sent).hexdigest()}


def redact_value(name: str, value: str) -> object:
    """What the post log stores for parameter `name` sent with `value`."""
    if name == "ssn":
        digits = normalise_ssn(value)
        return mask_ssn(digits) if digits is not None else redact_ssn_like(value)
    if _FILE_BODY.fullmatch(name):
        # Size and hash identify the file a vendor sent without the log holding 64 MiB of it.
        return _file_body_summary(value)
    if _names_a_secret(name):
        return redact_ssn_like(value)
    # A vendor may send an SSN under a name we do not know, or in a custom field: a value shaped
    # like one is hidden there too. Known fields keep theirs (a 9-digit zip is a ZIP+4).
    if (not is_known_parameter(name) or name.startswith(CUSTOM_PREFIX)) and SSN_LIKE.fullmatch(
        value.strip()
    ):
        return redact_ssn_like(value)
    return value


def redact_params(params: Mapping[str, str]) -> dict[str, object]:
    """The parameters for the post log: SSNs masked, base64 file bodies by size and SHA-256."""
    return {name: redact_value(name, value) for name, value in params.items()}
