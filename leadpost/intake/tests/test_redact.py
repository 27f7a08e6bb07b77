"""What the post log keeps of a post's parameters (SPEC §9)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from leadpost.intake.redact import redact_params


def test_ordinary_parameters_are_kept_as_sent() -> None:
    params = {
        "firstName": "John",
        "lastName": "Doe",
        "homePhone": "319-555-0000",
        "zip": "522401234",  # nine digits, but a ZIP+4, not an SSN
        "externalID": "123456789",
        "birthDate": "13/45/1980",
        "custom_Notes": "Prefers mornings",
    }
    assert redact_params(params) == params


@pytest.mark.parametrize("sent", ["123-45-6789", "123456789", " 123 45 6789 "])
def test_a_valid_ssn_is_masked(sent: str) -> None:
    assert redact_params({"ssn": sent}) == {"ssn": "***-**-6789"}


@pytest.mark.parametrize(
    ("sent", "logged"),
    [
        ("12345678", "****5678"),
        ("123-456-78901", "***-***-*8901"),
        ("SSN: 123 45 678", "SSN: *** *5 678"),
    ],
)
def test_an_invalid_ssn_keeps_only_its_last_four_digits(sent: str, logged: str) -> None:
    assert redact_params({"ssn": sent}) == {"ssn": logged}


@pytest.mark.parametrize(
    "name", ["SSN", "custom_SSN", "custom_Spouse ssn", "socialSecurity", "custom_Social Sec #"]
)
def test_parameters_named_like_an_ssn_are_redacted(name: str) -> None:
    assert redact_params({name: "987-65-4321 (spouse)"}) == {name: "***-**-4321 (spouse)"}


@pytest.mark.parametrize(
    ("value", "logged"),
    [
        ("987-65-4321", "***-**-4321"),
        ("987654321", "***-**-4321"),
        (" 987 65 4321 ", "***-**-4321"),
        ("call 987-65-4321 after 5", "call ***-**-4321 after 5"),
    ],
)
def test_unknown_and_custom_parameters_holding_an_ssn_shaped_value_are_redacted(
    value: str, logged: str
) -> None:
    params = {"taxpayerId": value, "custom_Tax ID": value}
    assert redact_params(params) == {"taxpayerId": logged, "custom_Tax ID": logged}


def test_unknown_parameters_with_other_values_are_kept() -> None:
    params = {"utm_campaign": "spring-2026", "leadScore": "98765432", "Phone": "319-555-0000"}
    assert redact_params(params) == params


def test_file_bodies_are_replaced_by_size_and_hash() -> None:
    body = base64.b64encode(b"%PDF-1.7 quote" * 1000).decode()
    logged = redact_params(
        {
            "attachment_note_1_file_name_1": "quote.pdf",
            "attachment_note_1_file_body_1": body,
            "attachment_note_1_file_url_2": "https://x.example/q.pdf",
        }
    )
    assert logged == {
        "attachment_note_1_file_name_1": "quote.pdf",
        "attachment_note_1_file_body_1": {
            "redacted": "base64",
            "bytes": len(body),
            "sha256": hashlib.sha256(body.encode()).hexdigest(),
        },
        "attachment_note_1_file_url_2": "https://x.example/q.pdf",
    }


@pytest.mark.parametrize(
    "name",
    ["attachment_note_9_file_body_12", "Attachment_Note_1_File_Body_1"],  # ignored by the parser
)
def test_file_bodies_are_redacted_even_when_the_parser_ignores_them(name: str) -> None:
    logged = redact_params({name: "not even base64 ☃"})
    assert logged == {
        name: {
            "redacted": "base64",
            "bytes": len("not even base64 ☃".encode()),
            "sha256": hashlib.sha256("not even base64 ☃".encode()).hexdigest(),
        }
    }


def test_parameter_order_is_kept() -> None:
    params = {"zeta": "1", "ssn": "123-45-6789", "alpha": "2"}
    assert list(redact_params(params)) == ["zeta", "ssn", "alpha"]


@pytest.mark.parametrize(
    "name",
    ["homePhone", "title", "street1", "attachment_note_1_body_text", "firstName", "leadSource"],
)
def test_known_parameters_holding_an_ssn_are_masked_too(name: str) -> None:
    # SPEC §9: masked "whatever parameter it came in", known ones included.
    assert redact_params({name: "123-45-6789"}) == {name: "***-**-6789"}
    assert redact_params({name: "123456789"}) == {name: "***-**-6789"}
    assert redact_params({name: "SSN is 123-45-6789."}) == {name: "SSN is ***-**-6789."}


def test_nine_digits_are_ordinary_in_a_zip_and_an_external_id_but_dashes_are_not() -> None:
    assert redact_params({"zip": "522401234", "externalID": "123456789"}) == {
        "zip": "522401234",
        "externalID": "123456789",
    }
    assert redact_params({"externalID": "ID 123-45-6789"}) == {"externalID": "ID ***-**-6789"}


def test_a_file_url_is_masked_in_the_log() -> None:
    logged = redact_params({"attachment_note_1_file_url_1": "https://x.example/123-45-6789.pdf"})
    assert logged == {"attachment_note_1_file_url_1": "https://x.example/***-**-6789.pdf"}


def test_a_parameter_name_shaped_like_an_ssn_is_masked() -> None:
    assert redact_params({"123-45-6789": "x"}) == {"***-**-6789": "x"}


def test_the_urls_own_token_pasted_into_a_lead_is_cut_everywhere(
    post: Any, vendor_url: Any, admin_client: Any
) -> None:
    """A careless vendor sends its Lead Post URL in a note and the token as a parameter's name:
    the record, the post log (parameters and warnings), the answer and the staff pages hold its
    first 6 characters only, and the answer says why (SPEC §9)."""
    from leadpost.intake.models import PostLog
    from leadpost.records.models import Note, Record

    token = vendor_url[1]
    answer = post(
        {
            "firstName": "Pat",
            "lastName": f"Lee {token}",
            "attachment_note_1_subject_text": "Vendor",
            "attachment_note_1_body_text": f"posted to https://x.example/leadpost/{token} ok",
            token: "1",
        }
    )
    assert answer.status_code == 200
    body = answer.content.decode()
    assert token not in body
    assert "token_masked" in body
    record = Record.objects.get()
    assert record.last_name == f"Lee {token[:6]}…"
    assert token not in Note.objects.get(record=record).body
    log = PostLog.objects.get()
    assert token not in repr(log.params) + repr(log.warnings)
    page = admin_client.get(f"/admin/intake/postlog/{log.pk}/change/").content.decode()
    assert token not in page and token[:6] in page
    # The dry run's path carries the token too: the same.
    test = post({"firstName": "Pat", "lastName": token}, suffix="/test")
    assert token not in test.content.decode()
