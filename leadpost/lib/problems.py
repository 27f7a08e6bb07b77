"""Warnings and errors about what a sender sent, and how they quote it (SPEC §3 warnings, §4).

Messages are read by vendors' developers, so they show the value received, but a post may carry a
1 MB value or thousands of bad names: quotes are cut short and repeated warnings are capped, so a
response stays small whatever was posted. No message repeats an SSN in clear (SPEC §9).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from leadpost.lib.ssn import mask_ssn_text

# Per kind of repeated warning (unknown names, duplicated names): this many name the parameter, then
# one more says how many were left unnamed.
MAX_NAMED_WARNINGS = 20

_MAX_QUOTE_CHARS = 80


def quoted(text: str) -> str:
    """`text` in double quotes, JSON-escaped (control characters visible), cut to 80 characters."""
    if len(text) <= _MAX_QUOTE_CHARS:
        return json.dumps(text, ensure_ascii=False)
    head = json.dumps(text[:_MAX_QUOTE_CHARS], ensure_ascii=False)
    return f'{head[:-1]}…" ({len(text):,} characters)'


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """`1 parameter`, `2,000 parameters`."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


def listed(items: list[str], limit: int = 5) -> str:
    """`a, b, c and 4 more`: a few names of a possibly long list."""
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        return f"{shown} and {len(items) - limit:,} more"
    return shown


_NINE_DIGITS_ORDINARY = frozenset({"zip", "externalID"})


@dataclass(frozen=True, slots=True)
class Problem:
    """A warning or an error about one parameter (or the post as a whole when `field` is None).

    `message` is read by vendors' developers: it names the parameter and the rule, and never repeats
    a sensitive value (SSN) back.
    """

    field: str | None
    code: str
    message: str

    def __post_init__(self) -> None:
        # Every warning and error passes here, so none repeats an SSN-shaped value in clear,
        # whichever parameter it came in (SPEC §9); nine digits are ordinary in a zip or an id.
        masked = mask_ssn_text(self.message, nine_digits=self.field not in _NINE_DIGITS_ORDINARY)
        if masked != self.message:
            object.__setattr__(self, "message", masked)
        if self.field is not None:  # an unknown parameter's name is whatever the vendor sent
            object.__setattr__(self, "field", mask_ssn_text(self.field))

    def as_json(self) -> dict[str, str | None]:
        return {"field": self.field, "code": self.code, "message": self.message}
