from __future__ import annotations

import datetime as dt

import pytest

from leadpost.lib.dates import parse_us_date


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("01/02/1980", dt.date(1980, 1, 2)),
        ("1/2/1980", dt.date(1980, 1, 2)),
        ("12/31/1999", dt.date(1999, 12, 31)),
        ("02/29/2024", dt.date(2024, 2, 29)),  # leap year
        (" 07/04/1976 ", dt.date(1976, 7, 4)),
    ],
)
def test_month_day_year_dates(sent: str, expected: dt.date) -> None:
    assert parse_us_date(sent) == expected


@pytest.mark.parametrize(
    "sent",
    [
        "",
        "02/29/2023",  # not a leap year
        "13/01/1980",  # no month 13
        "04/31/1980",  # April has 30 days
        "00/10/1980",
        "01/00/1980",
        "01/02/0000",  # no year zero
        "01/02/80",  # two-digit year
        "01/02/19800",
        "1980-01-02",  # ISO, not the documented format
        "02-01-1980",
        "001/02/1980",
        "\u0660\u0661/\u0660\u0662/\u0661\u0669\u0668\u0660",  # Arabic-Indic digits
        "01/02/1980 10:00",
    ],
)
def test_anything_else_is_not_a_date(sent: str) -> None:
    assert parse_us_date(sent) is None
