from __future__ import annotations

import pytest

from leadpost.lib.phone import normalise_us_phone


@pytest.mark.parametrize(
    "sent",
    [
        "(319) 555-0000",
        "319-555-0000",
        "319.555.0000",
        "3195550000",
        "(319)555-0000",
        "1-319-555-0000",
        "+1 319 555 0000",
        "+13195550000",
        "  319 555 0000  ",
    ],
)
def test_any_spelling_of_a_us_number_is_stored_in_one_format(sent: str) -> None:
    assert normalise_us_phone(sent) == "(319) 555-0000"


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("787-234-5678", "(787) 234-5678"),  # Puerto Rico
        ("340-642-1234", "(340) 642-1234"),  # US Virgin Islands
        ("671-300-1234", "(671) 300-1234"),  # Guam
    ],
)
def test_numbers_of_us_territories_are_us_numbers(sent: str, stored: str) -> None:
    assert normalise_us_phone(sent) == stored


@pytest.mark.parametrize(
    "sent",
    [
        "",
        "555-0000",  # no area code
        "319 555 000",  # one digit short
        "(000) 555-0000",  # no such area code
        "506-234-5678",  # Canada (New Brunswick): country code 1, not the US
        "+44 20 7946 0958",  # United Kingdom
        "(319) 555-0000 x12",  # extensions have no place in the stored format
        "319.555.0000 ext. 12",
        "not a phone",
        "3" * 1_000_000,
    ],
)
def test_invalid_or_foreign_numbers_are_refused(sent: str) -> None:
    assert normalise_us_phone(sent) is None


def _by_phonenumbers(value: str) -> str | None:
    """The rule spelled with phonenumbers' full parser, for the fast path to agree with."""
    import phonenumbers

    from leadpost.lib.phone import _US_REGIONS

    try:
        number = phonenumbers.parse(value.strip(), "US")
    except phonenumbers.NumberParseException:
        return None
    if number.extension or not any(
        phonenumbers.is_valid_number_for_region(number, r) for r in _US_REGIONS
    ):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def test_the_fast_path_for_plain_spellings_agrees_with_phonenumbers() -> None:
    import random

    rng = random.Random(20261201)
    areas = ["319", "787", "340", "671", "684", "670", "212", "555", "800", "900", "416", "242"]
    spellings = [
        "({a}) {e}-{l}",
        "{a}.{e}.{l}",
        "{a}-{e}-{l}",
        "+1 {a} {e} {l}",
        "1{a}{e}{l}",
        "{a}{e}{l}",
        "+1({a}){e}-{l}",
        "1-{a}-{e}-{l}",
    ]
    for _ in range(3000):
        sent = rng.choice(spellings).format(
            a=rng.choice(areas), e=rng.randrange(100, 1000), l=f"{rng.randrange(10000):04d}"
        )
        assert normalise_us_phone(sent) == _by_phonenumbers(sent), sent
