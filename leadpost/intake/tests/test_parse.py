"""parse_lead as a vendor sees it: every rule of SPEC §4-§6 with a good and a bad value.

Notes and attachments (SPEC §8) are in test_parse_notes.py.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest

from leadpost.intake.form import decode_form
from leadpost.intake.lead import AccountConfig, ParsedLead
from leadpost.intake.parse import INDIVIDUAL_ONLY, parse_lead, suggest_parameter
from leadpost.lib.choices import ListName, RecordType
from leadpost.lib.problems import Problem
from leadpost.records.inputs import AgentName

RECEIVED = dt.date(2026, 3, 15)
CONFIG = AccountConfig(received_on=RECEIVED)


def parse(params: dict[str, str], mode: RecordType = "individual") -> ParsedLead:
    """A post with the two required names plus `params`."""
    return parse_lead({"firstName": "John", "lastName": "Doe", **params}, mode, CONFIG)


def problems(lead: ParsedLead) -> list[tuple[str | None, str]]:
    return [(w.field, w.code) for w in lead.warnings]


def only_warning(lead: ParsedLead) -> Problem:
    [warning] = lead.warnings
    return warning


# -- SPEC §5: firstName, lastName (required) ----------------------------------------------------


def test_a_minimal_post() -> None:
    lead = parse_lead({"firstName": " John ", "lastName": "Doe"}, "individual", CONFIG)
    assert lead.fields == {"first_name": "John", "last_name": "Doe", "lead_date": RECEIVED}
    assert lead.warnings == []
    assert lead.errors == []
    assert not lead.rejected


@pytest.mark.parametrize("missing", ["firstName", "lastName"])
@pytest.mark.parametrize("sent", [None, "", "   "])
def test_a_missing_or_empty_name_rejects_the_post(missing: str, sent: str | None) -> None:
    params = {"firstName": "John", "lastName": "Doe", "email": "john@example.com"}
    if sent is None:
        del params[missing]
    else:
        params[missing] = sent
    lead = parse_lead(params, "individual", CONFIG)
    assert lead.rejected
    assert lead.errors == [
        Problem(missing, "required", f"{missing} is required and was missing or empty")
    ]
    assert lead.fields["email"] == "john@example.com"  # the rest is still checked


def test_both_names_missing_are_two_errors() -> None:
    lead = parse_lead({}, "sales_record", CONFIG)
    assert [(e.field, e.code) for e in lead.errors] == [
        ("firstName", "required"),
        ("lastName", "required"),
    ]


def test_names_are_free_text_of_any_length() -> None:
    lead = parse({"firstName": "Mary-Jane  O'Neil " + "x" * 5000})
    assert lead.fields["first_name"] == "Mary-Jane  O'Neil " + "x" * 5000
    assert lead.warnings == []


# -- middleInitial ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("sent", "stored"), [("q", "Q"), ("Q", "Q"), ("q.", "Q"), ("É", "É")])
def test_middle_initial_is_one_letter(sent: str, stored: str) -> None:
    lead = parse({"middleInitial": sent})
    assert lead.fields["middle_initial"] == stored
    assert lead.warnings == []


@pytest.mark.parametrize("sent", ["QR", "Quincy", "1", "Q..", ".", "-"])
def test_middle_initial_other_than_one_letter_is_dropped(sent: str) -> None:
    lead = parse({"middleInitial": sent})
    assert "middle_initial" not in lead.fields
    warning = only_warning(lead)
    assert (warning.field, warning.code) == ("middleInitial", "invalid_format")
    assert f'"{sent}"' in warning.message


# -- title -----------------------------------------------------------------------------------------


def test_title_is_free_text() -> None:
    lead = parse({"title": "  VP, Sales & Marketing  "})
    assert lead.fields["title"] == "VP, Sales & Marketing"
    assert lead.warnings == []


# -- birthDate, leadDate ---------------------------------------------------------------------------


def test_birth_date() -> None:
    lead = parse({"birthDate": "7/4/1976"})
    assert lead.fields["birth_date"] == dt.date(1976, 7, 4)
    assert lead.warnings == []


def test_birth_date_on_the_day_received_is_accepted() -> None:
    assert parse({"birthDate": "03/15/2026"}).fields["birth_date"] == RECEIVED


def test_birth_date_that_is_not_a_real_date_is_dropped() -> None:
    lead = parse({"birthDate": "13/45/1980"})
    assert "birth_date" not in lead.fields
    assert lead.warnings == [
        Problem(
            "birthDate",
            "invalid_date",
            'birthDate "13/45/1980" is not a real date in MM/DD/YYYY; not stored',
        )
    ]


@pytest.mark.parametrize("sent", ["1980-07-04", "02/30/1980", "July 4, 1976", "07/04/76"])
def test_birth_date_in_another_format_is_dropped(sent: str) -> None:
    lead = parse({"birthDate": sent})
    assert "birth_date" not in lead.fields
    assert problems(lead) == [("birthDate", "invalid_date")]


def test_birth_date_after_the_day_received_is_dropped() -> None:
    lead = parse({"birthDate": "03/16/2026"})
    assert "birth_date" not in lead.fields
    assert lead.warnings == [
        Problem(
            "birthDate",
            "future_date",
            'birthDate "03/16/2026" is after the day the lead was received (03/15/2026); '
            "not stored",
        )
    ]


def test_lead_date() -> None:
    lead = parse({"leadDate": "03/01/2026"})
    assert lead.fields["lead_date"] == dt.date(2026, 3, 1)
    assert lead.warnings == []


def test_lead_date_defaults_to_the_day_received() -> None:
    assert parse({}).fields["lead_date"] == RECEIVED
    assert parse({"leadDate": "  "}).fields["lead_date"] == RECEIVED


def test_an_invalid_lead_date_falls_back_to_the_day_received() -> None:
    lead = parse({"leadDate": "2026-03-01"})
    assert lead.fields["lead_date"] == RECEIVED
    assert lead.warnings == [
        Problem(
            "leadDate",
            "invalid_date",
            'leadDate "2026-03-01" is not a real date in MM/DD/YYYY; the day received '
            "(03/15/2026) was used",
        )
    ]


# -- ssn -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sent", ["123-45-6789", "123456789", " 123 45 6789 "])
def test_ssn_is_nine_digits_dashes_optional(sent: str) -> None:
    lead = parse({"ssn": sent})
    assert lead.ssn == "123456789"
    assert "ssn" not in lead.fields  # kept apart: encrypted by the action
    assert lead.warnings == []


@pytest.mark.parametrize("sent", ["98765432", "9876543210", "987-654-321", "SSN 987654321"])
def test_an_invalid_ssn_is_dropped_and_never_echoed(sent: str) -> None:
    lead = parse({"ssn": sent})
    assert lead.ssn is None
    assert lead.warnings == [
        Problem(
            "ssn", "invalid_ssn", "ssn is not 9 digits written ddd-dd-dddd or ddddddddd; not stored"
        )
    ]


# -- gender, smokerStatus --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key", "sent", "stored"),
    [
        ("gender", "gender", "F", "F"),
        ("gender", "gender", "m", "M"),
        ("smokerStatus", "smoker_status", "Y", "Y"),
        ("smokerStatus", "smoker_status", "n", "N"),
    ],
)
def test_one_letter_choices_either_case(name: str, key: str, sent: str, stored: str) -> None:
    lead = parse({name: sent})
    assert lead.fields[key] == stored
    assert lead.warnings == []


@pytest.mark.parametrize(
    ("name", "key", "sent", "rule"),
    [
        ("gender", "gender", "Female", "is not F or M"),
        ("gender", "gender", "X", "is not F or M"),
        ("smokerStatus", "smoker_status", "yes", "is not Y or N"),
        ("smokerStatus", "smoker_status", "0", "is not Y or N"),
    ],
)
def test_other_choices_are_dropped(name: str, key: str, sent: str, rule: str) -> None:
    lead = parse({name: sent})
    assert key not in lead.fields
    assert lead.warnings == [Problem(name, "invalid_choice", f'{name} "{sent}" {rule}; not stored')]


# -- email -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("john@example.com", "john@example.com"),
        ("John.Doe@EXAMPLE.COM", "John.Doe@example.com"),
        ("josé@exämple.com", "josé@exämple.com"),
    ],
)
def test_email_is_checked_without_dns(sent: str, stored: str) -> None:
    lead = parse({"email": sent})
    assert lead.fields["email"] == stored
    assert lead.warnings == []


@pytest.mark.parametrize("sent", ["john", "john@", "john@example", "jo hn@example.com", "a@@b.com"])
def test_an_invalid_email_is_dropped(sent: str) -> None:
    lead = parse({"email": sent})
    assert "email" not in lead.fields
    assert lead.warnings == [
        Problem(
            "email", "invalid_email", f'email "{sent}" is not a valid email address; not stored'
        )
    ]


# -- status, leadSource, type, projectCode -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("status", ListName.STATUS),
        ("leadSource", ListName.LEAD_SOURCE),
        ("type", ListName.TYPE),
        ("projectCode", ListName.PROJECT_CODE),
    ],
)
def test_list_values_are_kept_with_extra_spaces_collapsed(name: str, kind: ListName) -> None:
    lead = parse({name: "  Hot   Lead\t2026 "})
    assert lead.lists == {kind: "Hot Lead 2026"}
    assert lead.warnings == []


@pytest.mark.parametrize("name", ["status", "leadSource", "type", "projectCode"])
def test_list_values_over_255_characters_are_dropped(name: str) -> None:
    assert len(parse({name: "x" * 255}).lists) == 1
    lead = parse({name: "x" * 256})
    assert lead.lists == {}
    warning = only_warning(lead)
    assert (warning.field, warning.code) == (name, "too_long")
    assert "256 characters, over 255" in warning.message


# -- externalID ------------------------------------------------------------------------------------


def test_external_id() -> None:
    lead = parse({"externalID": " DL-2026 0001 "})
    assert lead.external_id == "DL-2026 0001"
    assert lead.warnings == []


def test_an_external_id_over_255_characters_is_dropped() -> None:
    lead = parse({"externalID": "9" * 256})
    assert lead.external_id is None
    warning = only_warning(lead)
    assert (warning.field, warning.code) == ("externalID", "too_long")


# -- homePhone, cellPhone, businessPhone -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [("homePhone", "home_phone"), ("cellPhone", "cell_phone"), ("businessPhone", "business_phone")],
)
def test_phones_are_reformatted(name: str, key: str) -> None:
    lead = parse({name: "319.555.0000"})
    assert lead.fields[key] == "(319) 555-0000"
    assert lead.warnings == []


@pytest.mark.parametrize("name", ["homePhone", "cellPhone", "businessPhone"])
@pytest.mark.parametrize("sent", ["555-0000", "(319) 555-0000 x12", "+44 20 7946 0958"])
def test_invalid_phones_are_dropped(name: str, sent: str) -> None:
    lead = parse({name: sent})
    assert not {"home_phone", "cell_phone", "business_phone"} & lead.fields.keys()
    warning = only_warning(lead)
    assert (warning.field, warning.code) == (name, "invalid_phone")
    assert f'"{sent}"' in warning.message


# -- Address ---------------------------------------------------------------------------------------


def test_a_full_address() -> None:
    lead = parse(
        {
            "street1": "100 Main St",
            "street2": "Apt 2",
            "city": "Iowa City",
            "stateAbbrev": "ia",
            "zip": "52240",
            "county": "Johnson",
        }
    )
    assert lead.fields == {
        "first_name": "John",
        "last_name": "Doe",
        "lead_date": RECEIVED,
        "street1": "100 Main St",
        "street2": "Apt 2",
        "city": "Iowa City",
        "state": "IA",
        "zip_code": "52240",
        "county": "Johnson County",
    }
    assert lead.warnings == []


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("52240", "52240"), ("52240-1234", "52240-1234"), ("522401234", "52240-1234")],
)
def test_zip_is_five_digits_or_zip_plus_four(sent: str, stored: str) -> None:
    lead = parse({"zip": sent, "stateAbbrev": "IA"})
    assert lead.fields["zip_code"] == stored
    assert lead.warnings == []


@pytest.mark.parametrize("sent", ["5224", "52240-12", "52240 1234", "ABCDE", "52240-12345"])
def test_a_zip_in_another_format_is_dropped(sent: str) -> None:
    lead = parse({"zip": sent, "stateAbbrev": "IA"})
    assert "zip_code" not in lead.fields
    assert lead.fields["state"] == "IA"
    warning = only_warning(lead)
    assert (warning.field, warning.code) == ("zip", "invalid_format")
    assert f'"{sent}"' in warning.message


def test_the_state_is_derived_from_a_zip_given_alone() -> None:
    lead = parse({"zip": "52240", "city": "Iowa City"})
    assert lead.fields["state"] == "IA"
    assert lead.fields["city"] == "Iowa City"
    assert lead.warnings == []


@pytest.mark.parametrize("sent", ["IA", "ia", "DC", "PR", "AE"])
def test_state_is_a_usps_code(sent: str) -> None:
    lead = parse({"stateAbbrev": sent})
    assert lead.fields["state"] == sent.upper()
    assert lead.warnings == []


@pytest.mark.parametrize("sent", ["Iowa", "XX", "I A"])
def test_a_state_that_is_not_a_usps_code_is_dropped(sent: str) -> None:
    lead = parse({"stateAbbrev": sent, "zip": "52240"})
    assert lead.fields["state"] == "IA"  # derived from the zip instead
    warning = only_warning(lead)
    assert (warning.field, warning.code) == ("stateAbbrev", "invalid_choice")


def test_zip_and_state_that_disagree_are_both_kept_and_warned() -> None:
    lead = parse({"zip": "52240", "stateAbbrev": "NE"})
    assert (lead.fields["zip_code"], lead.fields["state"]) == ("52240", "NE")
    assert lead.warnings == [
        Problem(
            "zip",
            "zip_state_mismatch",
            "zip 52240 lies in IA but stateAbbrev is NE; both were stored",
        )
    ]


def test_a_zip_unknown_to_the_zip_data_is_stored_but_gives_no_state() -> None:
    lead = parse({"zip": "00000", "city": "Nowhere"})
    assert lead.fields["zip_code"] == "00000"
    assert lead.fields["city"] == "Nowhere"
    assert "state" not in lead.fields
    warning = only_warning(lead)
    assert (warning.field, warning.code) == ("zip", "unknown_zip")


def test_an_unknown_zip_with_a_state_is_not_warned() -> None:
    lead = parse({"zip": "00000", "stateAbbrev": "IA"})
    assert (lead.fields["zip_code"], lead.fields["state"]) == ("00000", "IA")
    assert lead.warnings == []


def test_street_and_city_without_state_or_zip_are_dropped() -> None:
    lead = parse({"street1": "100 Main St", "city": "Iowa City"})
    assert not {"street1", "city", "state", "zip_code"} & lead.fields.keys()
    assert lead.warnings == [
        Problem(
            None,
            "address_incomplete",
            "street1, city not stored: an address needs a valid stateAbbrev or zip",
        )
    ]


def test_street_with_an_invalid_state_and_zip_is_dropped_with_each_reason() -> None:
    lead = parse({"street1": "100 Main St", "stateAbbrev": "Iowa", "zip": "5224"})
    assert "street1" not in lead.fields
    assert problems(lead) == [
        ("stateAbbrev", "invalid_choice"),
        ("zip", "invalid_format"),
        (None, "address_incomplete"),
    ]


def test_county_in_the_zip_is_stored_with_its_canonical_name() -> None:
    lead = parse({"zip": "52240", "county": "  JOHNSON county "})
    assert lead.fields["county"] == "Johnson County"
    assert lead.warnings == []


def test_county_without_a_zip_is_dropped() -> None:
    lead = parse({"stateAbbrev": "IA", "county": "Johnson"})
    assert "county" not in lead.fields
    assert lead.fields["state"] == "IA"
    warning = only_warning(lead)
    assert (warning.field, warning.code) == ("county", "address_incomplete")
    assert '"Johnson"' in warning.message


def test_county_not_in_the_zip_is_dropped() -> None:
    lead = parse({"zip": "52240", "county": "Linn"})
    assert "county" not in lead.fields
    assert lead.fields["zip_code"] == "52240"
    assert lead.warnings == [
        Problem(
            "county",
            "county_mismatch",
            'county "Linn" is not the county of zip 52240; not stored',
        )
    ]


# -- Agents (SPEC §6) ------------------------------------------------------------------------------


def test_servicing_agent_needs_both_names() -> None:
    lead = parse({"servicingAgentFirstName": " Alice ", "servicingAgentLastName": "Agent"})
    assert lead.servicing_agent == AgentName("Alice", "Agent")
    assert not lead.auto_route
    assert lead.warnings == []


@pytest.mark.parametrize(
    ("sent", "missing"),
    [
        ({"servicingAgentFirstName": "Alice"}, "servicingAgentLastName"),
        ({"servicingAgentLastName": "Agent"}, "servicingAgentFirstName"),
        ({"leadSourceAgentFirstName": "Bob"}, "leadSourceAgentLastName"),
        (
            {"leadSourceAgentLastName": "Broker", "leadSourceAgentFirstName": " "},
            "leadSourceAgentFirstName",
        ),
    ],
)
def test_one_agent_name_alone_assigns_no_one(sent: dict[str, str], missing: str) -> None:
    lead = parse(sent)
    assert lead.servicing_agent is None
    assert lead.lead_source_agent is None
    warning = only_warning(lead)
    assert (warning.field, warning.code) == (missing, "agent_incomplete")


@pytest.mark.parametrize("sent", ["Auto", "auto", "AUTO"])
@pytest.mark.parametrize("mode", ["individual", "sales_record"])
def test_auto_with_no_last_name_asks_for_routing(sent: str, mode: RecordType) -> None:
    lead = parse({"servicingAgentFirstName": sent}, mode)
    assert lead.auto_route
    assert lead.servicing_agent is None
    assert lead.warnings == []


def test_auto_with_a_last_name_is_an_agent_called_auto() -> None:
    lead = parse({"servicingAgentFirstName": "Auto", "servicingAgentLastName": "Mobile"})
    assert lead.servicing_agent == AgentName("Auto", "Mobile")
    assert not lead.auto_route


def test_lead_source_agent() -> None:
    lead = parse({"leadSourceAgentFirstName": "Bob", "leadSourceAgentLastName": "Broker"})
    assert lead.lead_source_agent == AgentName("Bob", "Broker")
    assert lead.warnings == []


# -- Individual-only parameters in Sales Record mode (SPEC §5) -------------------------------------

INDIVIDUAL_ONLY_POST = {
    "type": "Prospect",
    "projectCode": "P-7",
    "leadSourceOther": "County fair",
    "businessPhone": "319-555-0001",
    "leadSourceAgentFirstName": "Bob",
    "leadSourceAgentLastName": "Broker",
}


def test_individual_only_parameters_are_stored_for_individuals() -> None:
    lead = parse(INDIVIDUAL_ONLY_POST, "individual")
    assert lead.lists == {ListName.TYPE: "Prospect", ListName.PROJECT_CODE: "P-7"}
    assert lead.fields["lead_source_other"] == "County fair"
    assert lead.fields["business_phone"] == "(319) 555-0001"
    assert lead.lead_source_agent == AgentName("Bob", "Broker")
    assert lead.warnings == []


def test_individual_only_parameters_are_ignored_in_sales_record_mode() -> None:
    lead = parse(INDIVIDUAL_ONLY_POST | {"status": "New"}, "sales_record")
    assert lead.lists == {ListName.SALES_STATUS: "New"}  # a Sales Record's own status list
    assert not {"lead_source_other", "business_phone"} & lead.fields.keys()
    assert lead.lead_source_agent is None
    assert problems(lead) == [(name, "ignored_in_sales_record_mode") for name in INDIVIDUAL_ONLY]
    assert lead.warnings[0].message == (
        "type is not used when this account's posts create Sales Records; ignored"
    )


def test_empty_individual_only_parameters_are_not_warned_in_sales_record_mode() -> None:
    lead = parse(dict.fromkeys(INDIVIDUAL_ONLY_POST, ""), "sales_record")
    assert lead.warnings == []


# -- custom_<Name> (SPEC §7) -----------------------------------------------------------------------


def test_custom_fields_are_keyed_by_their_exact_name() -> None:
    lead = parse({"custom_Policy Type": "  Term Life ", "custom_age": "42", "custom_Empty": " "})
    assert lead.custom == {"Policy Type": "Term Life", "age": "42"}
    assert lead.warnings == []


def test_custom_with_no_name_is_unknown() -> None:
    lead = parse({"custom_": "x"})
    assert lead.custom == {}
    assert problems(lead) == [("custom_", "unknown_parameter")]


# -- Unknown parameters (SPEC §2) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "suggested"),
    [
        ("FirstName", "firstName"),
        ("emial", "email"),
        ("first_name", "firstName"),
        ("EXTERNALID", "externalID"),
        ("zipcode", "zip"),
        ("state", "stateAbbrev"),
        ("lastName ", "lastName"),
        ("Custom_Policy Type", "custom_Policy Type"),
        ("attachment_note_1_body", "attachment_note_1_body_text"),
    ],
)
def test_unknown_names_are_warned_with_a_suggestion(sent: str, suggested: str) -> None:
    lead = parse({sent: "secret value"})
    assert lead.warnings == [
        Problem(
            sent,
            "unknown_parameter",
            f'unknown parameter "{sent}" ignored; did you mean {suggested}?',
        )
    ]


def test_unknown_names_with_nothing_close_have_no_suggestion() -> None:
    lead = parse({"utm_campaign": "spring"})
    assert lead.warnings == [
        Problem("utm_campaign", "unknown_parameter", 'unknown parameter "utm_campaign" ignored')
    ]


def test_unknown_parameters_values_are_never_echoed() -> None:
    lead = parse({"SSN_number": "123-45-6789", "FirstName": "Sentinel-Value"})
    assert all("6789" not in w.message and "Sentinel" not in w.message for w in lead.warnings)


def test_thousands_of_unknown_names_give_twenty_warnings_and_a_count() -> None:
    lead = parse({f"extra{i}": "x" for i in range(5000)})
    assert len(lead.warnings) == 21
    assert [w.field for w in lead.warnings[:20]] == [f"extra{i}" for i in range(20)]
    assert lead.warnings[20] == Problem(
        None, "unknown_parameter", "4,980 more unknown parameters ignored (names not listed)"
    )


def test_one_unknown_name_beyond_the_cap_is_counted_in_the_singular() -> None:
    lead = parse({f"extra{i}": "x" for i in range(21)})
    assert lead.warnings[20].message == "1 more unknown parameter ignored (names not listed)"


def test_a_very_long_unknown_name_is_quoted_short() -> None:
    name = "q" * 100_000
    [warning] = parse({name: "1"}).warnings
    assert warning.field == name
    assert len(warning.message) < 200


def test_suggestions_are_not_sought_for_long_names() -> None:
    assert suggest_parameter("firstName" * 10) is None


# -- Whole posts -----------------------------------------------------------------------------------


def test_ten_thousand_parameters_through_decode_and_parse() -> None:
    params = {"firstName": "John", "lastName": "Doe"}
    params |= {f"custom_Field {i}": str(i) for i in range(5_000)}
    params |= {f"vendor_field_{i}": str(i) for i in range(5_000)}
    form = decode_form(urlencode(params).encode(), None)
    lead = parse_lead(form.params, "individual", CONFIG)
    assert len(lead.custom) == 5_000
    assert lead.custom["Field 4999"] == "4999"
    assert len(lead.warnings) == 21


def test_a_one_megabyte_value() -> None:
    big = "Ask about the umbrella policy. " * 35_000
    lead = parse({"title": big, "birthDate": big})
    assert lead.fields["title"] == big.strip()
    warning = only_warning(lead)
    assert (warning.field, warning.code) == ("birthDate", "invalid_date")
    assert len(warning.message) < 250  # the value is quoted short


def test_values_are_trimmed_and_empty_values_are_absent() -> None:
    lead = parse(
        {"email": "  ", "homePhone": "", "status": " \t ", "title": " CEO ", "custom_x": ""}
    )
    assert lead.fields == {
        "first_name": "John",
        "last_name": "Doe",
        "lead_date": RECEIVED,
        "title": "CEO",
    }
    assert lead.lists == {}
    assert lead.custom == {}
    assert lead.warnings == []


def test_a_bad_value_drops_only_itself() -> None:
    # SPEC §4: a paid lead is not lost over one malformed field.
    lead = parse(
        {
            "email": "not-an-email",
            "homePhone": "319-555-0000",
            "gender": "Q",
            "zip": "52240",
            "status": "New",
        }
    )
    assert not lead.rejected
    assert lead.fields["home_phone"] == "(319) 555-0000"
    assert lead.fields["zip_code"] == "52240"
    assert lead.lists == {ListName.STATUS: "New"}
    assert problems(lead) == [("gender", "invalid_choice"), ("email", "invalid_email")]
