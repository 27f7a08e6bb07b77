"""How warnings quote what a vendor sent (SPEC §3 warnings, §4).

Messages are read by vendors' developers, so they show the value received, but a post may carry a
1 MB value or thousands of bad names: quotes are cut short and repeated warnings are capped, so a
response stays small whatever was posted.
"""

from __future__ import annotations

import json

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
