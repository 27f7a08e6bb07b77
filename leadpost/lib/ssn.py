"""Social security numbers: accepted, masked and redacted (SPEC §5, §9).

Nothing here logs or raises with the value: an SSN must never reach a log in clear (SPEC §9).
"""

from __future__ import annotations

import re

# The ASCII digits in the usual grouping, with dashes or spaces optional between groups (SPEC §5
# "9 digits, dashes optional"); [0-9] rather than \d so other scripts' digits are not accepted.
SSN_LIKE = re.compile(r"[0-9]{3}[- ]?[0-9]{2}[- ]?[0-9]{4}")


def normalise_ssn(value: str) -> str | None:
    """The nine digits of `123-45-6789`, `123 45 6789` or `123456789`, else None."""
    value = value.strip()
    if SSN_LIKE.fullmatch(value) is None:
        return None
    return value.replace("-", "").replace(" ", "")


def mask_ssn(digits: str) -> str:
    """`***-**-6789`: how an SSN is shown anywhere once stored (SPEC §5)."""
    return f"***-**-{digits[-4:]}"


def redact_ssn_like(value: str) -> str:
    """`value` with every digit but the last four replaced by `*`.

    Used for values that may hold an SSN but did not pass the rule (SPEC §9): the shape stays
    visible for debugging a vendor's integration, the number does not. Any Unicode digit counts, to
    err on the side of hiding.
    """
    total = sum(1 for ch in value if ch.isdigit())
    to_hide = total - 4
    if to_hide <= 0:
        return value
    out: list[str] = []
    for ch in value:
        if to_hide > 0 and ch.isdigit():
            out.append("*")
            to_hide -= 1
        else:
            out.append(ch)
    return "".join(out)
