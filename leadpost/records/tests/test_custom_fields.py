"""Custom fields (SPEC §7): `custom_<Name>` typed per field, normalised, warned and ignored when bad.

Posted through the endpoint and read back through the read API's `customFields`, as a vendor and
the agency's CRM would; `check_value`'s rules are also tested as a plain function.
"""

from __future__ import annotations

import pytest

from leadpost.accounts.models import Permission
from leadpost.records.custom_fields import CustomValueError, check_value
from leadpost.records.models import CustomField, FieldType, RecordType

FORM = "application/x-www-form-urlencoded"

# name, type, options: the agency's Individual fields, one of each type.
INDIVIDUAL_FIELDS = [
    ("Nickname", FieldType.TEXT_FIELD, []),
    ("Story", FieldType.TEXT_AREA, []),
    ("Household Size", FieldType.NUMBER, []),
    ("Home Value", FieldType.CURRENCY, []),
    ("Down Payment", FieldType.PERCENT, []),
    ("Move Date", FieldType.DATE, []),
    ("Has Pool", FieldType.CHECKBOX, []),
    ("Tier", FieldType.DROPDOWN, ["Gold", "Silver"]),
    ("Interests", FieldType.CHECKBOX_LIST, ["Boating", "Golf"]),
]


@pytest.fixture
def fields(agency, other_agency) -> dict[str, CustomField]:
    made = {
        name: CustomField.objects.create(
            account=agency,
            entity_type=RecordType.INDIVIDUAL,
            name=name,
            field_type=field_type,
            options=options,
        )
        for name, field_type, options in INDIVIDUAL_FIELDS
    }
    made["Retired Code"] = CustomField.objects.create(
        account=agency,
        entity_type=RecordType.INDIVIDUAL,
        name="Retired Code",
        field_type=FieldType.TEXT_FIELD,
        active=False,
    )
    made["Fleet Size"] = CustomField.objects.create(
        account=agency,
        entity_type=RecordType.SALES_RECORD,
        name="Fleet Size",
        field_type=FieldType.NUMBER,
    )
    made["Otter Score"] = CustomField.objects.create(
        account=other_agency,
        entity_type=RecordType.INDIVIDUAL,
        name="Otter Score",
        field_type=FieldType.NUMBER,
    )
    return made


def created(response) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["result"] == "created"
    return body


def custom_fields_read_back(client, api_token, record_id) -> dict:
    response = client.get(f"/api/v1/records/{record_id}", HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert response.status_code == 200
    return response.json()["customFields"]


def warnings_by_field(body: dict) -> dict[str, str]:
    return {w["field"]: w["code"] for w in body["warnings"]}


# ------------------------------------------------------------------ good and bad values, per type

GOOD = [
    ("Nickname", "  Sunny  ", "Sunny"),
    ("Story", "Called twice.\nPrefers evenings.", "Called twice.\nPrefers evenings."),
    ("Household Size", "1,234.50", "1234.50"),
    ("Home Value", "$350,000", "350000.00"),
    ("Down Payment", "12.5%", "12.5"),
    ("Move Date", "2/9/2027", "02/09/2027"),
    ("Has Pool", "1", "1"),
    ("Tier", "gold", "Gold"),  # an existing option, in its own spelling
    ("Interests", "golf||BOATING", ["Golf", "Boating"]),
]
BAD = [
    ("Nickname", "x" * 256, "longer than 255 characters"),
    ("Household Size", "12 people", "is not a number"),
    ("Home Value", "$12.345", "more than two decimals"),
    ("Down Payment", "twelve%", "is not a percentage"),
    ("Move Date", "02/30/2027", "is not a real date in MM/DD/YYYY"),
    ("Has Pool", "yes", "is not 1 or 0"),
    ("Tier", "Gold||Silver", "a Dropdown takes one"),
    ("Interests", "||", "has no option"),
]


@pytest.mark.parametrize(("name", "posted", "stored"), GOOD, ids=[g[0] for g in GOOD])
def test_good_value_is_stored_normalised(client, post, api_token, fields, name, posted, stored):
    body = created(post({"firstName": "Jane", "lastName": "Roe", f"custom_{name}": posted}))
    assert body["warnings"] == []
    assert custom_fields_read_back(client, api_token, body["recordId"]) == {name: stored}


@pytest.mark.parametrize(("name", "posted", "why"), BAD, ids=[b[0] for b in BAD])
def test_bad_value_is_warned_and_ignored(client, post, api_token, fields, name, posted, why):
    body = created(
        post(
            {
                "firstName": "Jane",
                "lastName": "Roe",
                f"custom_{name}": posted,
                "custom_Story": "kept",  # a good value in the same post is kept
            }
        )
    )
    [warning] = body["warnings"]
    assert warning["field"] == f"custom_{name}"
    assert warning["code"] == "invalid_custom_value"
    assert why in warning["message"]
    read_back = custom_fields_read_back(client, api_token, body["recordId"])
    assert read_back == {"Story": "kept"}


def test_text_area_takes_what_a_text_field_refuses(client, post, api_token, fields):
    """A Text Area has no length limit of its own (SPEC §7), so no value of it breaks its type."""
    long_text = "y" * 5000
    body = created(post({"firstName": "Jane", "lastName": "Roe", "custom_Story": long_text}))
    assert body["warnings"] == []
    assert custom_fields_read_back(client, api_token, body["recordId"]) == {"Story": long_text}


def test_an_empty_value_is_absent_not_wrong(client, post, api_token, fields):
    body = created(post({"firstName": "Jane", "lastName": "Roe", "custom_Move Date": "  "}))
    assert body["warnings"] == []
    assert custom_fields_read_back(client, api_token, body["recordId"]) == {}


# ------------------------------------------------------------------ names


def test_a_name_with_spaces_is_posted_as_is(client, vendor_url, api_token, fields):
    """`custom_Home Value`: the space may arrive as `+` or `%20`."""
    token = vendor_url[1]
    for body in ["custom_Home+Value=1000", "custom_Home%20Value=1000"]:
        response = client.post(
            f"/leadpost/{token}", f"firstName=Jane&lastName=Roe&{body}", content_type=FORM
        )
        answer = created(response)
        assert answer["warnings"] == []
        read_back = custom_fields_read_back(client, api_token, answer["recordId"])
        assert read_back == {"Home Value": "1000.00"}


@pytest.mark.parametrize(
    "parameter",
    [
        "custom_home value",  # differs only in case
        "custom_HomeValue",  # without its space
        "custom_Retired Code",  # an inactive field
        "custom_Fleet Size",  # a Sales Record field, posted while the account makes Individuals
        "custom_Otter Score",  # another account's field
        "custom_Nonexistent",
    ],
)
def test_unknown_names_are_warned_and_ignored(client, post, api_token, fields, parameter):
    body = created(
        post({"firstName": "Jane", "lastName": "Roe", parameter: "12", "custom_Has Pool": "1"})
    )
    assert warnings_by_field(body) == {parameter: "unknown_custom_field"}
    assert custom_fields_read_back(client, api_token, body["recordId"]) == {"Has Pool": "1"}


def test_all_fields_in_one_post(client, post, api_token, fields):
    body = created(
        post(
            {
                "firstName": "Jane",
                "lastName": "Roe",
                **{f"custom_{name}": posted for name, posted, _ in GOOD},
            }
        )
    )
    assert body["warnings"] == []
    read_back = custom_fields_read_back(client, api_token, body["recordId"])
    assert read_back == {name: stored for name, _, stored in GOOD}


# ------------------------------------------------------------------ new options


def test_a_new_dropdown_option_is_added(client, post, api_token, fields):
    body = created(post({"firstName": "Jane", "lastName": "Roe", "custom_Tier": "Platinum"}))
    assert body["warnings"] == []
    assert custom_fields_read_back(client, api_token, body["recordId"]) == {"Tier": "Platinum"}
    fields["Tier"].refresh_from_db()
    assert fields["Tier"].options == ["Gold", "Silver", "Platinum"]
    # Known from now on: posted again in another case, it is the same option.
    again = created(post({"firstName": "Jo", "lastName": "Roe", "custom_Tier": "PLATINUM"}))
    assert custom_fields_read_back(client, api_token, again["recordId"]) == {"Tier": "Platinum"}
    fields["Tier"].refresh_from_db()
    assert fields["Tier"].options == ["Gold", "Silver", "Platinum"]


def test_a_new_checkbox_list_option_is_added(client, post, api_token, agency):
    field = CustomField.objects.create(
        account=agency,
        entity_type=RecordType.INDIVIDUAL,
        name="Letters",
        field_type=FieldType.CHECKBOX_LIST,
        options=["a", "b"],
    )
    body = created(post({"firstName": "Jane", "lastName": "Roe", "custom_Letters": "a||b||new"}))
    assert body["warnings"] == []
    read_back = custom_fields_read_back(client, api_token, body["recordId"])
    assert read_back == {"Letters": ["a", "b", "new"]}
    field.refresh_from_db()
    assert field.options == ["a", "b", "new"]


def test_a_bad_value_adds_no_option(client, post, fields):
    created(post({"firstName": "Jane", "lastName": "Roe", "custom_Tier": "Bronze||Iron"}))
    fields["Tier"].refresh_from_db()
    assert fields["Tier"].options == ["Gold", "Silver"]


def test_a_dry_run_adds_no_option(client, post, fields):
    response = post(
        {"firstName": "Jane", "lastName": "Roe", "custom_Tier": "Bronze"}, suffix="/test"
    )
    assert response.json()["result"] == "test"
    fields["Tier"].refresh_from_db()
    assert fields["Tier"].options == ["Gold", "Silver"]


# ------------------------------------------------------------------ the Custom Fields page


def test_custom_fields_page_shows_each_parameter_per_entity_type(
    client, agency, fields, staff_member
):
    client.force_login(staff_member(agency, "dee", Permission.MANAGE_DATA))
    individual = client.get("/staff/custom-fields/").content.decode()
    for name, _, _ in INDIVIDUAL_FIELDS:
        assert f'data-parameter="custom_{name}"' in individual
    assert "Gold, Silver" in individual
    assert "(MM/DD/YYYY)" in individual and "(options joined with ||)" in individual
    assert "custom_Fleet Size" not in individual and "Otter Score" not in individual
    sales = client.get("/staff/custom-fields/", {"entity_type": "sales_record"}).content.decode()
    assert 'data-parameter="custom_Fleet Size"' in sales
    assert "custom_Home Value" not in sales


# ------------------------------------------------------------------ check_value, without the database


@pytest.mark.parametrize(
    ("field_type", "raw", "options", "value", "new_options"),
    [
        (FieldType.TEXT_FIELD, "x" * 255, [], "x" * 255, []),
        (FieldType.TEXT_AREA, "a\nb", [], "a\nb", []),
        (FieldType.NUMBER, "42", [], "42", []),
        (FieldType.NUMBER, "-.5", [], "-0.5", []),
        (FieldType.NUMBER, "1,000,000", [], "1000000", []),
        (FieldType.CURRENCY, "$1,000", [], "1000.00", []),
        (FieldType.CURRENCY, "-$5.5", [], "-5.50", []),
        (FieldType.CURRENCY, "19.99", [], "19.99", []),
        (FieldType.PERCENT, "12.5 %", [], "12.5", []),
        (FieldType.PERCENT, "100", [], "100", []),
        (FieldType.DATE, "12/31/1999", [], "12/31/1999", []),
        (FieldType.DATE, "2/29/2024", [], "02/29/2024", []),
        (FieldType.CHECKBOX, "0", [], "0", []),
        (FieldType.DROPDOWN, "  silver ", ["Gold", "Silver"], "Silver", []),
        (FieldType.DROPDOWN, "Platinum", ["Gold"], "Platinum", ["Platinum"]),
        (FieldType.DROPDOWN, "Two  Words", [], "Two Words", ["Two Words"]),
        (
            FieldType.CHECKBOX_LIST,
            "golf||golf|| Tennis ||",
            ["Golf"],
            "Golf||Tennis",
            ["Tennis"],
        ),
        (FieldType.CHECKBOX_LIST, "a||b||new", ["a", "b"], "a||b||new", ["new"]),
    ],
)
def test_check_value_normalises(field_type, raw, options, value, new_options):
    checked = check_value(field_type, raw, options)
    assert (checked.value, checked.new_options) == (value, new_options)


@pytest.mark.parametrize(
    ("field_type", "raw", "options"),
    [
        (FieldType.TEXT_FIELD, "x" * 256, []),
        (FieldType.NUMBER, "1e5", []),
        (FieldType.NUMBER, "1,23", []),
        (FieldType.NUMBER, "", []),
        (FieldType.CURRENCY, "$", []),
        (FieldType.CURRENCY, "1.001", []),
        (FieldType.PERCENT, "%", []),
        (FieldType.DATE, "13/01/2020", []),
        (FieldType.DATE, "2020-01-01", []),
        (FieldType.CHECKBOX, "true", []),
        (FieldType.CHECKBOX, "2", []),
        (FieldType.DROPDOWN, "A||B", ["A", "B"]),
        (FieldType.DROPDOWN, "", ["A"]),
        (FieldType.CHECKBOX_LIST, "||", ["A"]),
        (FieldType.CHECKBOX_LIST, "ok||" + "o" * 256, []),
        ("colour", "red", []),
    ],
)
def test_check_value_refuses(field_type, raw, options):
    with pytest.raises(CustomValueError):
        check_value(field_type, raw, options)
