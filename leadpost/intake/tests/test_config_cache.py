"""What a process keeps of an account between posts (intake/config.py): few statements per post,
and never a stale answer after a change on a staff page, the operators' admin or a command."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from leadpost.accounts.models import Account, Permission, SecurityGroup, User
from leadpost.conftest import database_url
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.choices import ListName, RecordType
from leadpost.records.models import CustomField, FieldType, ListValue, Record

# Real commits: what a post created is kept only once its transaction commits.
pytestmark = pytest.mark.django_db(transaction=True)

FORM = "application/x-www-form-urlencoded"
LEAD = {
    "firstName": "John",
    "lastName": "Doe",
    "middleInitial": "Q",
    "birthDate": "04/15/1980",
    "ssn": "123-45-6789",
    "gender": "M",
    "email": "john@example.com",
    "status": "New Lead",
    "leadSource": "Datalot",
    "homePhone": "319-555-0100",
    "cellPhone": "319.555.0101",
    "street1": "1 Main St",
    "city": "Iowa City",
    "stateAbbrev": "IA",
    "zip": "52240",
    "servicingAgentFirstName": "Alice",
    "servicingAgentLastName": "Agent",
    "custom_Plan": "Gold",
    "attachment_note_1_subject_text": "Call back",
    "attachment_note_1_body_text": "Afternoons",
}


@pytest.fixture
def plan(agency: Account) -> CustomField:
    return CustomField.objects.create(
        account=agency, entity_type="individual", name="Plan", field_type=FieldType.TEXT_FIELD
    )


def _post(client: Client, token: str, **changes: str) -> dict:
    response = client.post(f"/leadpost/{token}", urlencode({**LEAD, **changes}), content_type=FORM)
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def _statements_of_second_post(client: Client, token: str) -> tuple[dict, list[str]]:
    _post(client, token, externalID="first")  # reads the account's rows, creates the lists
    with CaptureQueriesContext(connection) as queries:
        body = _post(client, token, externalID="second")
    return body, [q["sql"].split()[0].upper() for q in queries.captured_queries]


def test_a_typical_post_takes_eight_statements_once_the_account_is_known(client, vendor_url, alice):
    # As bench/leads.py posts it: every field, a note, custom fields the account does not define.
    body, statements = _statements_of_second_post(client, vendor_url[1])
    assert body["servicingAgent"]["id"] == alice.pk
    assert [w["code"] for w in body["warnings"]] == ["unknown_custom_field"]
    # The URL and its account's version, the cross-vendor duplicate look-up (SPEC §14); then,
    # in one transaction, the record, its note, the post log, and the agent's e-mail (SPEC §12;
    # its task is the worker's relay's to enqueue). The account has no webhook: no event, and
    # no statement to find that out.
    # The same person as the first post, from the same URL within a day: no match key to write.
    assert statements == ["SELECT", "SELECT", "BEGIN", *["INSERT"] * 4, "COMMIT"]
    record = Record.objects.get(pk=body["recordId"])
    assert (record.status.value, record.lead_source.value) == ("New Lead", "Datalot")


def test_a_new_phone_adds_one_insert_of_its_match_keys(client, vendor_url, alice):
    """SPEC §14: the keys its URL has not sent in the last day, all in one INSERT."""
    _post(client, vendor_url[1], externalID="first")
    with CaptureQueriesContext(connection) as queries:
        _post(client, vendor_url[1], externalID="second", cellPhone="319-555-0199")
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements == ["SELECT", "SELECT", "BEGIN", *["INSERT"] * 5, "COMMIT"]
    keys = [q["sql"] for q in queries.captured_queries if "matchkey" in q["sql"].lower()]
    assert len(keys) == 2  # the look-up and one INSERT (of the one new phone)


def test_a_custom_value_adds_its_insert(client, vendor_url, alice, plan):
    body, statements = _statements_of_second_post(client, vendor_url[1])
    assert body["warnings"] == []
    assert statements == ["SELECT", "SELECT", "BEGIN", *["INSERT"] * 5, "COMMIT"]
    assert Record.objects.get(pk=body["recordId"]).custom_values.get().value == "Gold"


def test_a_post_without_custom_fields_or_notes_takes_seven(client, vendor_url, alice):
    # The URL; the duplicate look-up; BEGIN, the record, the post log, the agent's e-mail; COMMIT.
    token = vendor_url[1]
    plain = {k: v for k, v in LEAD.items() if not k.startswith(("custom_", "attachment_"))}
    client.post(f"/leadpost/{token}", urlencode(plain), content_type=FORM)
    with CaptureQueriesContext(connection) as queries:
        client.post(
            f"/leadpost/{token}", urlencode({**plain, "externalID": "2"}), content_type=FORM
        )
    assert len(queries.captured_queries) <= 7, [q["sql"][:60] for q in queries.captured_queries]


def test_a_renamed_agent_is_seen_by_the_next_post(client, vendor_url, alice):
    token = vendor_url[1]
    assert _post(client, token)["servicingAgent"]["id"] == alice.pk
    alice.last_name = "Adams"
    alice.save()
    body = _post(client, token)
    assert body["servicingAgent"] is None
    assert body["warnings"][0]["code"] == "agent_not_found"
    assert _post(client, token, servicingAgentLastName="Adams")["servicingAgent"]["id"] == alice.pk


def test_a_deactivated_agent_is_seen_by_the_next_post(client, vendor_url, alice):
    token = vendor_url[1]
    _post(client, token)
    User.objects.filter(pk=alice.pk).update(is_active=False)  # behind the models' back
    alice.refresh_from_db()
    alice.save()  # any save of the user, as the staff page makes
    assert _post(client, token)["servicingAgent"] is None


def test_a_new_agent_with_the_same_name_makes_the_name_ambiguous(client, vendor_url, agency, alice):
    token = vendor_url[1]
    _post(client, token)
    User.objects.create(account=agency, username="alice2", first_name="Alice", last_name="Agent")
    assert _post(client, token)["warnings"][0]["code"] == "agent_ambiguous"


def test_sales_enablement_taken_away_is_seen_by_the_next_post(
    client, vendor_url, agency, staff_member
):
    token = vendor_url[1]
    agency.record_mode = RecordType.SALES_RECORD
    agency.save()
    seller = staff_member(
        agency, "sam", Permission.SALES_ENABLEMENT, first_name="Sam", last_name="Seller"
    )
    names = {"servicingAgentFirstName": "Sam", "servicingAgentLastName": "Seller"}
    assert _post(client, token, **names)["servicingAgent"]["id"] == seller.pk
    group = SecurityGroup.objects.get(members=seller)
    group.sales_enablement_visible = False
    group.save()
    body = _post(client, token, **names)
    assert body["servicingAgent"] is None
    assert body["warnings"][0]["code"] == "agent_lacks_sales_enablement"
    group.sales_enablement_visible = True
    group.save()
    seller.security_groups.remove(group)  # and the membership itself
    assert _post(client, token, **names)["servicingAgent"] is None


def test_a_new_custom_field_and_a_deactivated_one_are_seen_by_the_next_post(
    client, vendor_url, agency, alice
):
    token = vendor_url[1]
    assert _post(client, token)["warnings"][0]["code"] == "unknown_custom_field"
    field = CustomField.objects.create(
        account=agency, entity_type="individual", name="Plan", field_type=FieldType.TEXT_FIELD
    )
    assert _post(client, token)["warnings"] == []
    field.active = False
    field.save()
    assert _post(client, token)["warnings"][0]["code"] == "unknown_custom_field"


def test_a_list_value_renamed_or_deleted_on_a_staff_page_is_seen(client, vendor_url, agency, alice):
    token = vendor_url[1]
    first = Record.objects.get(pk=_post(client, token)["recordId"])
    entry = ListValue.objects.get(account=agency, list_name=ListName.STATUS)
    entry.value = "Fresh Lead"
    entry.save()
    again = Record.objects.get(pk=_post(client, token)["recordId"])
    assert again.status.value == "New Lead" and again.status_id != first.status_id
    assert ListValue.objects.filter(account=agency, list_name=ListName.STATUS).count() == 2


def test_a_disabled_url_is_refused_at_once_whatever_was_kept(client, vendor_url, alice):
    url, token = vendor_url
    _post(client, token)
    LeadPostUrl.objects.filter(pk=url.pk).update(enabled=False)  # as the admin's bulk action does
    response = client.post(f"/leadpost/{token}", urlencode(LEAD), content_type=FORM)
    assert response.status_code == 404


def test_the_record_mode_switched_applies_to_the_next_post(client, vendor_url, agency, alice):
    token = vendor_url[1]
    assert _post(client, token)["recordType"] == "individual"
    agency.record_mode = RecordType.SALES_RECORD
    agency.save(update_fields=["record_mode"])  # what the Lead Post Utility page does
    assert _post(client, token)["recordType"] == "salesRecord"


def test_a_list_value_a_post_made_is_reused_by_the_next(client, vendor_url, agency, alice):
    token = vendor_url[1]
    _post(client, token, leadSource="Brand New Vendor")
    with CaptureQueriesContext(connection) as queries:
        _post(client, token, leadSource="brand new VENDOR")
    assert not any("records_listvalue" in q["sql"] for q in queries.captured_queries)
    assert ListValue.objects.filter(account=agency, value="Brand New Vendor").count() == 1


def test_a_list_value_of_a_rolled_back_post_is_not_kept(client, vendor_url, agency, alice):
    token = vendor_url[1]
    _post(client, token, externalID="X-1")
    # A duplicate's transaction creates the new entry, then rolls back: nothing must be kept.
    duplicate = _post(client, token, externalID="X-1", leadSource="Only In Duplicate")
    assert duplicate["result"] == "duplicate"
    assert not ListValue.objects.filter(value="Only In Duplicate").exists()
    body = _post(client, token, externalID="X-2", leadSource="Only In Duplicate")
    assert Record.objects.get(pk=body["recordId"]).lead_source.value == "Only In Duplicate"


@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_to_a_database_restart_does_not_fail_the_next_post(post) -> None:
    """The connection this thread kept died between two posts (PostgreSQL restarted or failed
    over: its backend is gone; SQLite: the file's handle closed under it): the next post is still
    stored rather than answered 503 or 500."""
    assert post({"firstName": "Before", "lastName": "Restart"}).status_code == 200
    if connection.vendor == "postgresql":
        import psycopg

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        with psycopg.connect(database_url(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    else:
        connection.connection.close()  # behind Django's back: it still holds it as open

    reply = post({"firstName": "After", "lastName": "Restart"})
    assert reply.status_code == 200, reply.json()
    assert reply.json()["result"] == "created"
    assert Record.objects.filter(first_name="After").count() == 1
