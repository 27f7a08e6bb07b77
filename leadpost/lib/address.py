"""US addresses: USPS state codes and the offline ZIP data of the `zipcodes` package (SPEC §5)."""

from __future__ import annotations

import functools
import unicodedata
from typing import Any

import zipcodes

# USPS Publication 28 two-letter codes: the 50 states, DC, the territories, the freely associated
# states (FM, MH, PW: the zip data has ZIP codes there, so a state derived from a zip must be valid)
# and the military "states" AA, AE, AP.
USPS_STATE_CODES: frozenset[str] = frozenset(
    {
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA",
        "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME", "MD",
        "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ",
        "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC",
        "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
        "DC", "PR", "VI", "GU", "AS", "MP", "FM", "MH", "PW",
        "AA", "AE", "AP",
    }
)  # fmt: skip

# Words a vendor may add or leave off a county's name. "City" is deliberately not one of them:
# Baltimore City and Baltimore County (and St. Louis city / County) are different places.
_COUNTY_SUFFIXES = (
    " city and borough",
    " census area",
    " county",
    " parish",
    " borough",
    " municipio",
    " municipality",
)

ZipRow = dict[str, Any]


@functools.cache
def _zip_index() -> dict[str, list[ZipRow]]:
    # zipcodes.matching() scans all ~42,000 rows on every call; one pass into a dict at first use
    # makes each look-up O(1). Built lazily so importing this module (e.g. for the state codes)
    # costs nothing. A race on first use builds the dict twice, harmlessly.
    index: dict[str, list[ZipRow]] = {}
    for row in zipcodes.list_all():
        index.setdefault(row["zip_code"], []).append(row)
    return index


def zip_info(zip5: str) -> list[ZipRow]:
    """The zip data's rows for a 5-digit ZIP code (empty when unknown); the dicts are shared."""
    return list(_zip_index().get(zip5, ()))


def state_for_zip(zip5: str) -> str | None:
    """The USPS state code the ZIP code lies in, or None when the zip data does not know it."""
    for row in _zip_index().get(zip5, ()):
        state = row.get("state")
        if state:
            return str(state)
    return None


def _county_key(name: str) -> str:
    # Compare county names the way a person would: ignoring case, accents ("Añasco" / "Anasco"),
    # periods ("St Mary's" / "St. Mary's", both spellings occur in the zip data), extra spaces and a
    # trailing "County"/"Parish"/... word.
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    key = " ".join(plain.replace(".", " ").casefold().split())
    for suffix in _COUNTY_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return key


def county_for_zip(zip5: str, county: str) -> str | None:
    """The zip data's spelling of `county` when the ZIP code lies in it, else None.

    `county_for_zip("52240", "johnson")` -> `"Johnson County"`.
    """
    wanted = _county_key(county)
    if not wanted:
        return None
    for row in _zip_index().get(zip5, ()):
        canonical = row.get("county")
        if canonical and _county_key(str(canonical)) == wanted:
            return str(canonical)
    return None
