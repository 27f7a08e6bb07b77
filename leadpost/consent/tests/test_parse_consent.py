"""The consent evidence parameters (SPEC §14) as parse_lead reads them: each with good and bad
values, its alternative name, and hostile values; never an "unknown parameter"."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest

from leadpost.intake.form import decode_form
from leadpost.intake.lead import AccountConfig, ParsedLead
from leadpost.intake.parse import is_known_parameter, parse_lead, suggest_parameter
from leadpost.intake.redact import mask_ssn_shapes, mask_token, redact_params
from leadpost.lib.choices import RecordType

CONFIG = AccountConfig(received_on=dt.date(2026, 12, 1))
CERT_ID = "eb9fc4dd9bed9ad451a5648946cf4bf09b5bb947"
CERT = f"https://cert.trustedform.com/{CERT_ID}"
LEADID = "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D"


def parse(params: dict[str, str], mode: RecordType = RecordType.INDIVIDUAL) -> ParsedLead:
    """As the action parses a post: SSN shapes masked first, then parse_lead."""
    sent, ssn_warnings = mask_ssn_shapes({"firstName": "John", "lastName": "Doe", **params})
    lead = parse_lead(sent, mode, CONFIG)
    lead.warnings[:0] = ssn_warnings
    return lead


def codes(lead: ParsedLead) -> list[tuple[str | None, str]]:
    return [(w.field, w.code) for w in lead.warnings]


def test_every_parameter_and_its_alternative_name_is_known() -> None:
    for name in (
        "xxTrustedFormCertUrl",
        "trustedFormCertUrl",
        "leadid_token",
        "universal_leadid",
        "tcpaConsentText",
        "ipAddress",
        "landingPageUrl",
    ):
        assert is_known_parameter(name)
    # Names are matched exactly, as every other parameter is; a near miss gets a suggestion.
    assert suggest_parameter("xxtrustedformcerturl") == "xxTrustedFormCertUrl"
    assert suggest_parameter("LeadiD") == "leadid_token"
    assert suggest_parameter("universalLeadId") == "universal_leadid"


def test_good_values_are_stored_normalised_without_warnings() -> None:
    lead = parse(
        {
            "xxTrustedFormCertUrl": f"HTTPS://Cert.TrustedForm.com/{CERT_ID}",
            "leadid_token": LEADID.lower(),
            "tcpaConsentText": "By clicking Submit I agree to be called at the number above.",
            "ipAddress": "2001:DB8:0:0:0:0:0:1",
            "landingPageUrl": "https://quotes.example.com/life?utm_source=fb&x=ü",
        }
    )
    assert lead.warnings == []
    assert lead.consent == {
        "trustedform_cert_url": CERT,
        "leadid_token": LEADID,
        "tcpa_consent_text": "By clicking Submit I agree to be called at the number above.",
        "ip_address": "2001:db8::1",
        "landing_page_url": "https://quotes.example.com/life?utm_source=fb&x=ü",
    }


def test_the_alternative_names_are_read_the_same_way() -> None:
    lead = parse({"trustedFormCertUrl": CERT, "universal_leadid": LEADID})
    assert lead.warnings == []
    assert lead.consent == {"trustedform_cert_url": CERT, "leadid_token": LEADID}


def test_both_names_with_different_values_use_the_scripts_name_and_say_so() -> None:
    other = "https://cert.trustedform.com/" + "0" * 39 + "a"
    lead = parse({"xxTrustedFormCertUrl": CERT, "trustedFormCertUrl": other})
    assert codes(lead) == [("trustedFormCertUrl", "conflicting_value")]
    assert lead.consent == {"trustedform_cert_url": CERT}
    assert parse({"leadid_token": LEADID, "universal_leadid": LEADID}).warnings == []
    # A bad value under one name does not hide a good one under the other.
    lead = parse({"leadid_token": "zz", "universal_leadid": LEADID})
    assert codes(lead) == [("leadid_token", "invalid_format")]
    assert lead.consent == {"leadid_token": LEADID}


def test_a_post_without_evidence_has_none() -> None:
    assert parse({}).consent == {}
    assert parse({"ipAddress": "  "}).consent == {}  # empty counts as absent (SPEC §2)


def test_evidence_is_read_in_sales_record_mode_too() -> None:
    lead = parse({"xxTrustedFormCertUrl": CERT}, RecordType.SALES_RECORD)
    assert lead.consent == {"trustedform_cert_url": CERT}


@pytest.mark.parametrize(
    "value",
    [
        f"http://cert.trustedform.com/{CERT_ID}",  # not https: the key would travel in clear
        f"https://cert.trustedform.com.evil.com/{CERT_ID}",
        f"https://evil.com/cert.trustedform.com/{CERT_ID}",
        f"https://cert.trustedform.com@evil.com/{CERT_ID}",
        f"https://api:key@cert.trustedform.com/{CERT_ID}",
        f"https://cert.trustedform.com:8443/{CERT_ID}",
        f"https://cert.trustedform.com:443/{CERT_ID}",
        f"https://cert.trustedform.com./{CERT_ID}",
        f"https://cert.trustedform.com/{CERT_ID}?shared_token=abc",
        f"https://cert.trustedform.com/{CERT_ID}#x",
        f"https://cert.trustedform.com/{CERT_ID}/claims",
        f"https://cert.trustedform.com/../{CERT_ID}",
        f"https://cert.trustedform.com/{CERT_ID} ",  # inner space (the end is trimmed)
        f"https://cert.trustedform.com/{CERT_ID[:10]}\t{CERT_ID[10:]}",
        f"https://cert.trustedform.com\\{CERT_ID}",
        "https://cert.trustedform.com/short",
        "https://cert.trustedform.com/" + "a" * 256,
        f"https://cert.trustedform.com/{CERT_ID}é",
        f"https://[::1]/{CERT_ID}",
        CERT_ID,
        "javascript:alert(1)",
    ],
)
def test_a_certificate_url_that_is_not_trustedforms_own_is_dropped(value: str) -> None:
    lead = parse({"xxTrustedFormCertUrl": f"x{value}" if value.endswith(" ") else value})
    assert codes(lead) == [("xxTrustedFormCertUrl", "invalid_url")]
    assert "not stored" in lead.warnings[0].message
    assert lead.consent == {}
    assert lead.fields["first_name"] == "John"  # the lead is kept (SPEC §4)


@pytest.mark.parametrize(
    "value", ["not-a-token", "A1B2C3D4 E5F6", "G" * 36, "A" * 65, "-ABCDEF12", "AB--CD12", "abc"]
)
def test_a_leadid_token_that_is_not_hex_and_dashes_is_dropped(value: str) -> None:
    lead = parse({"leadid_token": value})
    assert codes(lead) == [("leadid_token", "invalid_format")]
    assert lead.consent == {}


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8::1", "2001:db8::1"),
        ("::FFFF:203.0.113.9", "::ffff:203.0.113.9"),
    ],
)
def test_an_ip_address_is_stored_in_its_standard_form(value: str, stored: str) -> None:
    assert parse({"ipAddress": value}).consent == {"ip_address": stored}


@pytest.mark.parametrize(
    "value",
    ["203.0.113", "203.0.113.256", "010.0.0.1", "fe80::1%eth0", "localhost", "1" * 46, "::g"],
)
def test_an_ip_address_that_does_not_parse_is_dropped(value: str) -> None:
    lead = parse({"ipAddress": value})
    assert codes(lead) == [("ipAddress", "invalid_ip")]


@pytest.mark.parametrize(
    "value",
    [
        "ftp://example.com/form",
        "javascript:alert(1)",
        "https://",
        "https://user:pw@example.com/",
        "https://example.com:notaport/",
        "https://exa mple.com/",
        "//example.com/form",
        "https://example.com/" + "a" * 2048,
    ],
)
def test_a_landing_page_that_is_not_an_http_url_is_dropped(value: str) -> None:
    lead = parse({"landingPageUrl": value})
    assert codes(lead) == [("landingPageUrl", "invalid_url")]


def test_consent_text_is_kept_as_sent_up_to_its_limit() -> None:
    text = "I agree.\n" + "x" * (5000 - 9)
    assert parse({"tcpaConsentText": text}).consent == {"tcpa_consent_text": text}
    lead = parse({"tcpaConsentText": text + "y"})
    assert codes(lead) == [("tcpaConsentText", "too_long")]
    assert "(5,001 characters)" in lead.warnings[0].message  # quoted short, with its size


def test_a_megabyte_value_is_dropped_and_quoted_short() -> None:
    huge = "a" * 1_000_000
    for name in ("xxTrustedFormCertUrl", "leadid_token", "ipAddress", "landingPageUrl"):
        lead = parse({name: huge})
        [warning] = lead.warnings
        assert warning.field == name and len(warning.message) < 400
        assert lead.consent == {}


def test_nul_and_invalid_utf8_arrive_replaced_and_fail_the_checks() -> None:
    body = (
        b"firstName=J&lastName=D&ipAddress=1.2.3.4%00&xxTrustedFormCertUrl="
        + quote(CERT).encode()
        + b"%FF&tcpaConsentText=I%00agree%FF"
    )
    form = decode_form(body, None)
    lead = parse_lead(form.params, RecordType.INDIVIDUAL, CONFIG)
    assert codes(lead) == [
        ("xxTrustedFormCertUrl", "invalid_url"),
        ("ipAddress", "invalid_ip"),
    ]
    # Free text keeps the replacement characters, as every other free text does (SPEC §2).
    assert lead.consent == {"tcpa_consent_text": "I\ufffdagree\ufffd"}
    assert {w.code for w in form.warnings} == {"invalid_encoding", "control_character"}


def test_ssn_shaped_text_is_masked_in_every_evidence_parameter() -> None:
    lead = parse(
        {
            "tcpaConsentText": "I agree. SSN 123-45-6789",
            "landingPageUrl": "https://example.com/?ssn=123456789",
            "ipAddress": "123-45-6789",
            "leadid_token": "123456789",
            "xxTrustedFormCertUrl": "https://cert.trustedform.com/123-45-6789abcdefabcdefabcd",
        }
    )
    assert lead.consent == {
        "tcpa_consent_text": "I agree. SSN ***-**-6789",
        "landing_page_url": "https://example.com/?ssn=***-**-6789",
    }
    text = repr(lead)
    assert "123-45-6789" not in text and "123456789" not in text
    # And the post log keeps them masked too.
    logged = str(redact_params({"leadid_token": "123456789", "ipAddress": "123 45 6789"}))
    assert "123456789" not in logged and "123 45 6789" not in logged


def test_nine_digits_inside_a_real_certificate_id_or_uuid_are_not_an_ssn() -> None:
    # One id in twenty holds a run of nine digits: masking it would drop good evidence.
    cert = "https://cert.trustedform.com/ab123456789cdef0123abcdef0123abcdef01234"
    token = "12345678-E5F6-4A7B-8C9D-A123456789BC"
    lead = parse({"xxTrustedFormCertUrl": cert, "leadid_token": token})
    assert lead.warnings == []
    assert lead.consent == {"trustedform_cert_url": cert, "leadid_token": token.upper()}
    assert redact_params({"xxTrustedFormCertUrl": cert})["xxTrustedFormCertUrl"] == cert


def test_nine_digits_in_a_certificate_id_of_another_shape_are_an_ssn() -> None:
    # Only today's 40-hex-digit id is spared: in any other shape the digits may be an SSN, so
    # they are masked, and the masked id is no certificate id any more (dropped, warned).
    cert = "https://cert.trustedform.com/ssn_123456789_xxxxxxxxxxxx"
    lead = parse({"xxTrustedFormCertUrl": cert})
    assert [(w.field, w.code) for w in lead.warnings] == [
        ("xxTrustedFormCertUrl", "ssn_masked"),
        ("xxTrustedFormCertUrl", "invalid_url"),
    ]
    assert lead.consent == {}
    assert "123456789" not in repr(lead)
    assert "123456789" not in str(redact_params({"xxTrustedFormCertUrl": cert}))


def test_the_urls_own_token_is_cut_from_the_evidence() -> None:
    token = "lp_s3cr3tT0kenValue0123456789abcdef"
    params, warnings = mask_token(
        {
            "firstName": "J",
            "lastName": "D",
            "landingPageUrl": f"https://example.com/?post={token}",
            "tcpaConsentText": f"posted to /leadpost/{token}",
        },
        token,
    )
    lead = parse_lead(params, RecordType.INDIVIDUAL, CONFIG)
    assert [w.code for w in warnings] == ["token_masked"]
    assert token not in repr(lead)
    assert lead.consent["tcpa_consent_text"] == "posted to /leadpost/lp_s3c…"
