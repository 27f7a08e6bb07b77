"""US phone numbers, stored in one spelling (SPEC §5: `(319) 555-0000`)."""

from __future__ import annotations

import re

import phonenumbers

# NANP regions that are the United States for a lead's purposes: the states (US) and the territories
# whose USPS codes an address may carry (PR, VI, GU, AS, MP). Canada and the Caribbean nations share
# country code 1 but are not US numbers (SPEC §5 "a valid US number").
_US_REGIONS = ("US", "PR", "VI", "GU", "AS", "MP")

# A US number in the usual spellings: optional +1 or 1, area code (in parentheses or not), then
# exchange and line, separated by nothing, a space, a dot or a dash.
_PLAIN_US = re.compile(
    r"(?:\+?1[ .-]?)?(?:\(([2-9][0-9]{2})\)|([2-9][0-9]{2}))[ .-]?([2-9][0-9]{2})[ .-]?([0-9]{4})"
)

# phonenumbers refuses inputs over 250 characters itself; a shorter cap keeps a 1 MB value from even
# reaching the parser.
_MAX_INPUT = 64


def normalise_us_phone(value: str) -> str | None:
    """`(319) 555-0000` for any spelling of a valid US number, else None.

    A number with an extension (`319-555-0000 x12`) is refused (None): the stored spelling has no
    place for one, and dropping it here would lose the extension without a word to the vendor.
    """
    value = value.strip()
    if not value or len(value) > _MAX_INPUT:
        return None
    plain = _PLAIN_US.fullmatch(value)
    if plain is not None:
        # The spellings vendors send nearly always ((319) 555-0000, 319.555.0000, +1 319 555 0000):
        # no letters, no extension, so phonenumbers' parser (most of the cost) has nothing to add.
        area, exchange, line = plain[1] or plain[2], plain[3], plain[4]
        number = phonenumbers.PhoneNumber(
            country_code=1, national_number=int(area + exchange + line)
        )
        if not any(phonenumbers.is_valid_number_for_region(number, r) for r in _US_REGIONS):
            return None
        return f"({area}) {exchange}-{line}"
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        return None
    if number.extension:
        return None
    if not any(phonenumbers.is_valid_number_for_region(number, r) for r in _US_REGIONS):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
