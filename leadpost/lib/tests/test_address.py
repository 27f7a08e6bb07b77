from __future__ import annotations

import pytest

from leadpost.lib.address import USPS_STATE_CODES, county_for_zip, state_for_zip, zip_info


def test_state_codes_are_the_usps_set() -> None:
    # 50 states + DC + 5 territories + 3 freely associated states + 3 military codes.
    assert len(USPS_STATE_CODES) == 62
    assert {"IA", "DC", "PR", "VI", "GU", "AS", "MP", "AA", "AE", "AP"} <= USPS_STATE_CODES
    assert "XX" not in USPS_STATE_CODES
    assert "ia" not in USPS_STATE_CODES  # callers upper-case first


def test_zip_info_returns_the_zip_data_row() -> None:
    [row] = zip_info("52240")
    assert row["city"] == "Iowa City"
    assert row["state"] == "IA"
    assert row["county"] == "Johnson County"


def test_zip_info_of_an_unknown_zip_is_empty() -> None:
    assert zip_info("00000") == []


def test_zip_info_hands_out_a_new_list_each_time() -> None:
    zip_info("52240").clear()
    assert len(zip_info("52240")) == 1


@pytest.mark.parametrize(
    ("zip5", "state"),
    [("52240", "IA"), ("10001", "NY"), ("00610", "PR"), ("99623", "AK"), ("09001", "AE")],
)
def test_state_for_zip(zip5: str, state: str) -> None:
    assert state_for_zip(zip5) == state


def test_state_for_an_unknown_zip_is_none() -> None:
    assert state_for_zip("00000") is None


@pytest.mark.parametrize(
    "sent",
    ["Johnson County", "johnson", "JOHNSON", "  Johnson   County ", "johnson county"],
)
def test_county_is_matched_ignoring_case_spaces_and_the_county_word(sent: str) -> None:
    assert county_for_zip("52240", sent) == "Johnson County"


@pytest.mark.parametrize(
    ("zip5", "sent", "canonical"),
    [
        ("70112", "Orleans", "Orleans Parish"),
        ("99623", "Matanuska-Susitna", "Matanuska-Susitna Borough"),
        ("00610", "Añasco", "Anasco Municipio"),  # accents ignored
        ("20606", "St Mary's County", "St. Mary's County"),  # periods ignored
        ("20635", "St. Mary's", "St Mary's County"),
        ("21201", "Baltimore City", "Baltimore city"),
    ],
)
def test_county_spellings_across_states(zip5: str, sent: str, canonical: str) -> None:
    assert county_for_zip(zip5, sent) == canonical


@pytest.mark.parametrize(
    ("zip5", "sent"),
    [
        ("52240", "Linn"),  # a neighbouring county
        ("52240", "Johnson City"),
        ("52240", ""),
        ("21201", "Baltimore"),  # the zip is in Baltimore city, not Baltimore County
        ("21201", "Baltimore County"),
        ("00000", "Johnson"),  # unknown zip
    ],
)
def test_county_the_zip_does_not_lie_in_is_none(zip5: str, sent: str) -> None:
    assert county_for_zip(zip5, sent) is None
