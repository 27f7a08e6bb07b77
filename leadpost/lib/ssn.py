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


# "123-45-6789" (or with spaces) inside any text, not part of a longer run of digits.
_SSN_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{3}([- ])[0-9]{2}\1[0-9]{4}(?![0-9])")
# Nine digits alone, not part of a longer run: how an SSN looks in a message or a log line.
_NINE_DIGITS = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")


def _mask_match(match: re.Match[str]) -> str:
    return mask_ssn(match[0][-4:])


def mask_ssn_text(text: str, *, nine_digits: bool = True) -> str:
    """`text` with every SSN-shaped part masked as `***-**-6789` (SPEC §9).

    `123-45-6789` is masked anywhere; with `nine_digits`, so is a run of exactly nine digits
    (pass False for text that is a zip or an externalID, where nine digits are ordinary).
    Cheap when there is nothing to mask: one scan per pattern, in C.
    """
    if _SSN_IN_TEXT.search(text) is not None:
        text = _SSN_IN_TEXT.sub(_mask_match, text)
    if nine_digits and _NINE_DIGITS.search(text) is not None:
        text = _NINE_DIGITS.sub(_mask_match, text)
    return text


def mask_ssn_value(value: str, *, nine_digits: bool = True) -> str:
    """A posted value with SSN shapes masked: `123-45-6789` anywhere, and (with `nine_digits`)
    nine digits standing alone anywhere in it (`Jane 123456789`), or a value that is nothing but
    an SSN written any way SPEC §5 accepts (`123 45 6789`)."""
    if nine_digits and SSN_LIKE.fullmatch(value.strip()) is not None:
        return mask_ssn(normalise_ssn(value) or value[-4:])
    return mask_ssn_text(value, nine_digits=nine_digits)
