"""The edges of the Lead Post endpoint: what careless and hostile senders were seen to send.

Each test is a reproduction of something that lost a lead, answered wrongly or leaked a secret on
the code before it; all run on SQLite and on PostgreSQL (where most of them first failed).
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from django.db import connection
from django.test import Client, override_settings

from leadpost.accounts.models import Account, Permission, User
from leadpost.intake.lead import DecodedForm, ParsedLead
from leadpost.intake.models import PostLog
from leadpost.intake.parse import parse_lead
from leadpost.lib.choices import RecordType
from leadpost.records.models import CustomField, FieldType, Record
from leadpost.routing.models import (
    ActionKind,
    AgentProfile,
    PoolMember,
    RoutingRule,
    SalesWorkflow,
    WorkflowAction,
)

FORM = "application/x-www-form-urlencoded"
NAMES = {"firstName": "John", "lastName": "Doe"}


def _body(response) -> dict:
    assert response["Content-Type"] == "application/json", response.content[:200]
    return json.loads(response.content)


def _raw_post(client: Client, token: str, body: bytes, **extra):
    return client.generic("POST", f"/leadpost/{token}", body, content_type=FORM, **extra)


# --- values the database refuses -------------------------------------------------------------


def test_a_nul_byte_in_a_known_value_is_replaced_and_the_lead_kept(client, vendor_url):
    response = _raw_post(client, vendor_url[1], b"firstName=A%00B&lastName=Doe")
    body = _body(response)
    assert response.status_code == 200, body
    record = Record.objects.get(pk=body["recordId"])
    assert record.first_name == "A\ufffdB"
    assert [(w["field"], w["code"]) for w in body["warnings"]] == [
        ("firstName", "control_character")
    ]
    log = PostLog.objects.get(pk=body["postId"])
    assert log.params["firstName"] == "A\ufffdB"


def test_a_nul_byte_in_an_unknown_parameter_and_its_name_is_logged_not_a_503(client, vendor_url):
    response = _raw_post(client, vendor_url[1], b"firstName=A&lastName=B&x=a%00b&n%00m=1")
    body = _body(response)
    assert response.status_code == 200, body
    log = PostLog.objects.get(pk=body["postId"])
    assert log.params["x"] == "a\ufffdb"
    assert log.params["n\ufffdm"] == "1"


@pytest.mark.parametrize("control", ["%01", "%1B", "%7F", "%C2%85", "%C2%9F"])
def test_other_control_characters_are_replaced(client, vendor_url, control):
    body = _body(_raw_post(client, vendor_url[1], f"firstName=A&lastName=B{control}C".encode()))
    assert Record.objects.get(pk=body["recordId"]).last_name == "B\ufffdC"


def test_tab_and_line_breaks_are_kept(client, vendor_url):
    body = _body(
        _raw_post(
            client, vendor_url[1], b"firstName=A&lastName=B&zip=52240&street1=1%09Main%0D%0ASt"
        )
    )
    assert Record.objects.get(pk=body["recordId"]).street1 == "1\tMain\r\nSt"
    assert body["warnings"] == []


def test_a_value_list_entry_whose_case_free_key_is_too_long_is_dropped_and_the_lead_kept(post):
    # "ß" x 200 is 200 characters but casefolds to "ss" x 200: the key column holds 255.
    response = post({**NAMES, "status": "ß" * 200, "leadSource": "Datalot"})
    body = _body(response)
    assert response.status_code == 200, body
    record = Record.objects.get(pk=body["recordId"])
    assert record.status is None
    assert record.lead_source is not None and record.lead_source.value == "Datalot"
    warning = next(w for w in body["warnings"] if w["field"] == "status")
    assert warning["code"] == "too_long"
    assert "400 once case is ignored" in warning["message"]


@pytest.fixture
def database_refuses_a_title(db):
    """A trigger makes the database refuse one value (as it would a value we failed to foresee):
    the permanent kind of error, which must never be answered 503 (SPEC §3)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "CREATE TRIGGER refuse_title BEFORE INSERT ON records_record "
                "WHEN NEW.title = 'refuse-me' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_title_update BEFORE UPDATE ON records_record "
                "WHEN NEW.title = 'refuse-me' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION refuse_title() RETURNS trigger AS $$ BEGIN "
                "IF NEW.title = 'refuse-me' THEN RAISE EXCEPTION 'refused' "
                "USING ERRCODE = '22001'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_title BEFORE INSERT OR UPDATE ON records_record "
                "FOR EACH ROW EXECUTE FUNCTION refuse_title()"
            )


def test_a_value_the_database_refuses_is_dropped_and_warned_the_lead_kept(
    post, database_refuses_a_title, caplog
):
    sent = {
        **NAMES,
        "title": "refuse-me",
        "email": "john@example.com",
        "homePhone": "319-555-0100",
        "status": "Brand new status",
        "externalID": "LEAD-77",
        "attachment_note_1_subject_text": "Call",
        "attachment_note_1_body_text": "Mornings",
    }
    response = post(sent)
    body = _body(response)
    assert response.status_code == 200, body
    record = Record.objects.get(pk=body["recordId"])
    assert (record.first_name, record.last_name, record.title) == ("John", "Doe", "")
    assert (record.email, record.home_phone) == ("john@example.com", "(319) 555-0100")
    assert record.status is not None and record.status.value == "Brand new status"
    assert record.external_id == "LEAD-77"
    assert [n.body for n in record.notes.all()] == ["Mornings"]
    assert [(w["field"], w["code"]) for w in body["warnings"]] == [("title", "not_stored")]
    log = PostLog.objects.get(pk=body["postId"])
    assert (log.result, log.record_id, log.params["title"]) == ("created", record.pk, "refuse-me")
    assert any("salvage" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    # The vendor's retry is a duplicate, not a second record.
    again = _body(post(sent))
    assert (again["result"], again["recordId"]) == ("duplicate", record.pk)


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
@pytest.mark.parametrize("forwarded", ["unknown", "", "1.2.3", "::ffff:zz", "2001:db8::1, bogus"])
def test_a_forwarded_for_that_is_not_an_address_falls_back_to_the_peer(post, forwarded):
    response = post(NAMES, HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 200
    log = PostLog.objects.get(pk=int(response["X-Lead-Post-Id"]))
    assert log.client_ip == "198.51.100.4"


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_the_last_forwarded_hop_is_the_client(post):
    response = post(NAMES, HTTP_X_FORWARDED_FOR="10.0.0.1, 203.0.113.9", REMOTE_ADDR="10.1.1.1")
    log = PostLog.objects.get(pk=int(response["X-Lead-Post-Id"]))
    assert log.client_ip == "203.0.113.9"


def test_a_user_agent_with_control_characters_is_logged_replaced(post):
    response = post(NAMES, HTTP_USER_AGENT="curl\x00/8\x1b")
    log = PostLog.objects.get(pk=int(response["X-Lead-Post-Id"]))
    assert log.user_agent == "curl\ufffd/8\ufffd"


# --- every answer under /leadpost/ is JSON, and every answer to a known URL is logged ----------


@pytest.mark.parametrize(
    "path", ["/leadpost/", "/leadpost", "/leadpost/{token}/x", "/leadpost/a/b/c"]
)
def test_paths_under_leadpost_that_are_no_url_get_the_json_404(client, vendor_url, path):
    response = client.post(path.format(token=vendor_url[1]), urlencode(NAMES), content_type=FORM)
    assert response.status_code == 404
    assert _body(response)["errors"][0]["code"] == "unknown_url"
    assert PostLog.objects.count() == 0


def test_a_get_to_a_known_url_is_405_logged_with_its_post_id(client, vendor_url):
    response = client.get(f"/leadpost/{vendor_url[1]}")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    log = PostLog.objects.get(pk=int(response["X-Lead-Post-Id"]))
    assert (log.status_code, log.result) == (405, "method_not_allowed")
    assert _body(response)["postId"] == log.pk


def test_a_get_to_an_unknown_url_is_the_same_404_as_a_post(client, db):
    response = client.get("/leadpost/not-a-token")
    assert response.status_code == 404
    assert _body(response)["errors"][0]["code"] == "unknown_url"


@pytest.mark.parametrize("charset", ["utf-8é", "utf 8", "a" * 41, "base64", "utf-16", "x-unknown"])
def test_an_unusable_charset_is_415(client, vendor_url, charset):
    response = client.generic(
        "POST",
        f"/leadpost/{vendor_url[1]}",
        urlencode(NAMES),
        content_type=f"{FORM}; charset={charset}",
    )
    assert response.status_code == 415
    assert _body(response)["errors"][0]["code"] == "unsupported_charset"
    assert Record.objects.count() == 0


# --- SSNs are masked wherever a warning or a log would repeat them ---------------------------


@pytest.fixture
def number_field(agency: Account) -> CustomField:
    return CustomField.objects.create(
        account=agency, entity_type="individual", name="Policy Count", field_type=FieldType.NUMBER
    )


@pytest.mark.parametrize(
    "params",
    [
        {"custom_Policy Count": "123-45-6789"},
        {"homePhone": "123-45-6789"},
        {"homePhone": "123456789"},
        {"birthDate": "123-45-6789"},
        {"custom_Unknown Field": "123-45-6789"},
        {"attachment_note_1_subject_text": "SSN 123-45-6789", "attachment_note_1_body_text": "x"},
        {"123-45-6789": "as a name"},
    ],
)
def test_an_ssn_sent_in_any_parameter_is_nowhere_in_clear(
    post, number_field, staff_member, agency, params
):
    response = post({**NAMES, **params})
    assert response.status_code == 200
    digits = ("123-45-6789", "123456789")
    assert not any(d in response.content.decode() for d in digits)
    log = PostLog.objects.get(pk=int(response["X-Lead-Post-Id"]))
    stored = json.dumps([log.params, log.warnings], ensure_ascii=False)
    assert not any(d in stored for d in digits)
    record = Record.objects.get()
    record_text = json.dumps(
        [
            [getattr(record, f.attname) for f in Record._meta.concrete_fields],
            list(record.notes.values_list("subject", "body")),
            list(record.custom_values.values_list("value", flat=True)),
        ],
        default=str,
    )
    assert not any(d in record_text for d in digits)
    viewer = staff_member(agency, "viewer", Permission.VIEW_POST_LOG, Permission.SALES_ENABLEMENT)
    page = Client()
    page.force_login(viewer)
    for url in (f"/staff/intake/postlog/{log.pk}/change/", "/staff/intake/postlog/"):
        html = page.get(url).content.decode()
        assert "***-**-6789" in html or url.endswith("postlog/")
        assert not any(d in html for d in digits)


def test_a_masked_value_is_warned_once_naming_the_parameter(post):
    body = _body(post({**NAMES, "title": "see 123-45-6789"}))
    assert ("title", "ssn_masked") in [(w["field"], w["code"]) for w in body["warnings"]]
    assert Record.objects.get().title == "see ***-**-6789"


def test_nine_digits_are_an_ordinary_zip_and_external_id(post):
    body = _body(post({**NAMES, "zip": "522401234", "externalID": "123456789"}))
    record = Record.objects.get(pk=body["recordId"])
    assert (record.zip_code, record.external_id) == ("52240-1234", "123456789")
    assert "ssn_masked" not in [w["code"] for w in body["warnings"]]


def test_the_parsed_lead_and_the_form_never_show_an_ssn_in_their_repr():
    form = DecodedForm(params={**NAMES, "ssn": "123-45-6789"}, warnings=[])
    lead = parse_lead(form.params, "individual", _config())
    assert isinstance(lead, ParsedLead) and lead.ssn == "123456789"
    for text in (repr(form), repr(lead), str(lead)):
        assert "6789" not in text


def _config():
    import datetime as dt

    from leadpost.intake.lead import AccountConfig

    return AccountConfig(received_on=dt.date(2026, 12, 1))


# --- Sales Record mode: the post log of posts without a record --------------------------------


def test_dry_runs_and_rejected_posts_in_sales_record_mode_are_hidden_without_sales_enablement(
    post, agency, staff_member, vendor_url
):
    agency.record_mode = RecordType.SALES_RECORD
    agency.save()
    dry = post({**NAMES, "email": "secret-lead@example.com"}, suffix="/test")
    rejected = post({"firstName": "Only", "email": "secret-lead@example.com"})
    refused = Client().generic(
        "POST", f"/leadpost/{vendor_url[1]}", b"firstName=X", content_type="text/plain"
    )
    ids = [int(r["X-Lead-Post-Id"]) for r in (dry, rejected, refused)]
    assert [r.status_code for r in (dry, rejected, refused)] == [200, 400, 415]
    reader = staff_member(agency, "reader", Permission.VIEW_POST_LOG)
    page = Client()
    page.force_login(reader)
    listing = page.get("/staff/intake/postlog/").content.decode()
    assert "secret-lead" not in listing
    for post_id in ids:
        assert page.get(f"/staff/intake/postlog/{post_id}/change/").status_code in (302, 404)
    seer = staff_member(agency, "seer", Permission.VIEW_POST_LOG, Permission.SALES_ENABLEMENT)
    page.force_login(seer)
    for post_id in ids:
        assert page.get(f"/staff/intake/postlog/{post_id}/change/").status_code == 200


def test_individual_mode_posts_stay_visible_after_the_switch(post, agency, staff_member):
    before = post({"firstName": "Only"})
    agency.record_mode = RecordType.SALES_RECORD
    agency.save()
    reader = staff_member(agency, "reader", Permission.VIEW_POST_LOG)
    page = Client()
    page.force_login(reader)
    response = page.get(f"/staff/intake/postlog/{before['X-Lead-Post-Id']}/change/")
    assert response.status_code == 200


# --- "Auto Smith": an answer never contradicts itself ------------------------------------------


@pytest.fixture
def routed_by_workflow(agency: Account) -> User:
    """A premium Sales Record account whose workflow routes unassigned records to Ann."""
    agency.record_mode = RecordType.SALES_RECORD
    agency.premium_workflows = True
    agency.save()
    ann = User.objects.create(account=agency, username="ann", first_name="Ann", last_name="Agent")
    AgentProfile.objects.create(user=ann, licensed_states=["IA"])
    rule = RoutingRule.objects.create(account=agency, name="Iowa")
    PoolMember.objects.create(rule=rule, agent=ann)
    workflow = SalesWorkflow.objects.create(account=agency, name="Route all")
    WorkflowAction.objects.create(workflow=workflow, kind=ActionKind.ROUTE)
    return ann


@pytest.mark.parametrize("suffix", ["", "/test"])
def test_auto_with_a_last_name_routed_by_a_workflow_says_so(post, routed_by_workflow, suffix):
    params = {**NAMES, "stateAbbrev": "IA", "servicingAgentFirstName": "Auto"}
    body = _body(post({**params, "servicingAgentLastName": "Smith"}, suffix=suffix))
    assert body["servicingAgent"]["firstName"] == "Ann"
    warning = next(w for w in body["warnings"] if w["field"] == "servicingAgentFirstName")
    assert warning["code"] == "agent_not_found"
    assert "not assigned" not in warning["message"]
    assert warning["message"].endswith("routed to Ann Agent by Lead Routing Rule “Iowa”.")


def test_an_unmatched_name_nobody_routes_still_says_not_assigned(post):
    body = _body(post({**NAMES, "servicingAgentFirstName": "Auto", "servicingAgentLastName": "X"}))
    assert body["servicingAgent"] is None
    assert body["warnings"][0]["message"].endswith("not assigned.")


# --- other pages keep Django's default size limits ----------------------------------------------


def test_a_large_form_to_the_staff_login_is_refused_unread(client):
    client.get("/staff/login/")
    response = client.post(
        "/staff/login/",
        "username=x&password=" + "a" * 3_000_000,
        content_type=FORM,
    )
    assert response.status_code == 400


def test_a_large_post_is_still_taken_by_the_lead_endpoint(post):
    note = "n" * 3_000_000
    response = post(
        {**NAMES, "attachment_note_1_subject_text": "big", "attachment_note_1_body_text": note}
    )
    assert response.status_code == 200
    assert Record.objects.get().notes.get().body == note


def test_percent_encoded_nul_in_a_name_of_the_query_string_is_shown_replaced(post):
    response = post(NAMES, QUERY_STRING="x%00y=" + quote("1"))
    warning = _body(response)["warnings"][0]
    assert warning["code"] == "query_string_ignored"
    assert "\x00" not in warning["message"]
