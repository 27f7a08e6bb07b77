from __future__ import annotations

import pytest

from leadpost.lib.ssn import mask_ssn, normalise_ssn, redact_ssn_like


@pytest.mark.parametrize("sent", ["123-45-6789", "123456789", "123 45 6789", " 123-45-6789 "])
def test_nine_digits_with_optional_dashes(sent: str) -> None:
    assert normalise_ssn(sent) == "123456789"


@pytest.mark.parametrize(
    "sent",
    [
        "",
        "12345678",  # eight digits
        "1234567890",  # ten digits
        "123-456-789",  # digits grouped wrongly
        "123--45-6789",
        "12a-45-6789",
        "123.45.6789",
        "".join(chr(0xFF10 + int(d)) for d in "123456789"),  # fullwidth digits
    ],
)
def test_other_values_are_not_ssns(sent: str) -> None:
    assert normalise_ssn(sent) is None


def test_mask_shows_only_the_last_four() -> None:
    assert mask_ssn("123456789") == "***-**-6789"


@pytest.mark.parametrize(
    ("sent", "redacted"),
    [
        ("123-45-6789", "***-**-6789"),
        ("12345678", "****5678"),
        ("SSN 123 45 6789!", "SSN *** ** 6789!"),
        ("1234", "1234"),  # nothing beyond the last four to hide
        ("no digits", "no digits"),
        ("", ""),
    ],
)
def test_redact_hides_every_digit_but_the_last_four(sent: str, redacted: str) -> None:
    assert redact_ssn_like(sent) == redacted
