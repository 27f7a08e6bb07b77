"""Small rules about text that several apps apply the same way."""

from __future__ import annotations

import re

_SPACES = re.compile(r"\s+")


def collapse_spaces(value: str) -> str:
    """`value` with runs of whitespace made one space and the ends trimmed."""
    return _SPACES.sub(" ", value).strip()


def list_key(value: str) -> str:
    """How value-list entries are matched: ignoring case and extra spaces (SPEC §5).

    The key can be longer than the value ("ß" casefolds to "ss"): whoever stores it checks
    the key's length, not only the value's.
    """
    return collapse_spaces(value).casefold()
