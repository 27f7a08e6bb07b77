"""Custom field values as posted (SPEC §7): checked against the field's type without the database."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from leadpost.lib.dates import parse_us_date
from leadpost.records.models import FieldType

TEXT_FIELD_MAX = 255
OPTION_MAX = 255
LIST_SEPARATOR = "||"

_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+")


@dataclass(slots=True)
class CheckedValue:
    """A value that passed its type: what to store, and options the post adds to the field."""

    value: str
    new_options: list[str] = field(default_factory=list)


class CustomValueError(ValueError):
    """The value breaks the field's type; the message says how (for the vendor's warning)."""


def _decimal(raw: str, what: str) -> Decimal:
    if not _NUMBER.fullmatch(raw):
        raise CustomValueError(f"is not a {what}")
    try:
        return Decimal(raw.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise CustomValueError(f"is not a {what}") from None


def _options(raw: str, existing: list[str], *, many: bool) -> CheckedValue:
    wanted = [part.strip() for part in raw.split(LIST_SEPARATOR)] if many else [raw]
    wanted = [" ".join(part.split()) for part in wanted if part.strip()]
    if not wanted:
        raise CustomValueError("has no option")
    if not many and LIST_SEPARATOR in raw:
        raise CustomValueError("names several options; a Dropdown takes one")
    by_key = {option.casefold(): option for option in existing}
    chosen: list[str] = []
    new: list[str] = []
    for option in wanted:
        if len(option) > OPTION_MAX:
            raise CustomValueError(f"has an option longer than {OPTION_MAX} characters")
        known = by_key.get(option.casefold())
        if known is None:
            # A value not yet an option becomes one, as value lists do (SPEC §5, §7).
            known = option
            by_key[option.casefold()] = option
            new.append(option)
        if known not in chosen:
            chosen.append(known)
    return CheckedValue(LIST_SEPARATOR.join(chosen), new)


def check_value(field_type: str, raw: str, options: list[str]) -> CheckedValue:
    """Normalise `raw` for a field of `field_type`; raises CustomValueError when it breaks it."""
    match field_type:
        case FieldType.TEXT_FIELD:
            if len(raw) > TEXT_FIELD_MAX:
                raise CustomValueError(f"is longer than {TEXT_FIELD_MAX} characters")
            return CheckedValue(raw)
        case FieldType.TEXT_AREA:
            return CheckedValue(raw)
        case FieldType.NUMBER:
            return CheckedValue(str(_decimal(raw, "number")))
        case FieldType.CURRENCY:
            amount = _decimal(raw.removeprefix("$").removeprefix("-$").strip(), "currency amount")
            if raw.startswith("-$"):
                amount = -amount
            if amount.as_tuple().exponent < -2:  # type: ignore[operator]
                raise CustomValueError("has more than two decimals")
            return CheckedValue(str(amount.quantize(Decimal("0.01"))))
        case FieldType.PERCENT:
            return CheckedValue(str(_decimal(raw.removesuffix("%").strip(), "percentage")))
        case FieldType.DATE:
            date = parse_us_date(raw)
            if date is None:
                raise CustomValueError("is not a real date in MM/DD/YYYY")
            return CheckedValue(date.strftime("%m/%d/%Y"))
        case FieldType.CHECKBOX:
            if raw not in ("0", "1"):
                raise CustomValueError("is not 1 or 0")
            return CheckedValue(raw)
        case FieldType.DROPDOWN:
            return _options(raw, options, many=False)
        case FieldType.CHECKBOX_LIST:
            return _options(raw, options, many=True)
    raise CustomValueError(f"has an unknown field type {field_type!r}")
