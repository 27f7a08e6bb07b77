"""Dates as vendors post them (SPEC §5: `MM/DD/YYYY`)."""

from __future__ import annotations

import datetime as dt
import re

# [0-9], not \d: \d also matches other scripts' digits, which int() would quietly accept.
_US_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")


def parse_us_date(value: str) -> dt.date | None:
    """The date written `MM/DD/YYYY` (one-digit month and day accepted), or None.

    None also for a well-formed but impossible date (`02/30/2024`) and for year 0000.
    """
    match = _US_DATE.fullmatch(value.strip())
    if match is None:
        return None
    month, day, year = (int(part) for part in match.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None
