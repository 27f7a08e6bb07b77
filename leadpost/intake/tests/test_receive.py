"""What a post stores: value lists, agents, SSN protection, the post log (SPEC §5, §6, §9)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.utils import timezone

from leadpost.accounts.models import User
from leadpost.intake.actions import Client, receive_lead
from leadpost.intake.lead import DecodedForm
from leadpost.intake.models import PostLog
from leadpost.intake.views import answer
from leadpost.lib.encryption import decrypt_ssn, ssn_index
from leadpost.records.models import ListName, ListValue, Record

VENDOR = Client(ip="203.0.113.7", user_agent="Datalot/2.1")
FULL_POST = {
    "firstName": "John",
    "lastName": "Doe",
    "middleInitial": "q",
    "title": "Mr.",
    "birthDate": "04/15/1980",
    "ssn": "123-45-6789",
    "gender": "m",
    "smokerStatus": "n",
    "email": "John.Doe@Example.COM",
    "status": "new lead",
    "leadSource": "datalot",
    "leadDate": "11/20/2026",
    "externalID": "DL-1001",
    "homePhone": "319.555.0100",
    "cellPhone": "+1 (319) 555-0101",
    "businessPhone": "3195550102",
    "street1": "1 Main St",
    "street2": "Apt 2",
    "city": "Iowa City",
    "stateAbbrev": "ia",
    "zip": "52240",
    "county": "johnson",
    "type": "Prospect",
    "projectCode": "Q4",
    "leadSourceOther": "TV ad",
    "servicingAgentFirstName": "Alice",
    "servicingAgentLastName": "Agent",
    "leadSourceAgentFirstName": "Bob",
    "leadSourceAgentLastName": "Broker",
}


def receive(url, params, *, at=None, dry_run=False):
    return answer(
        receive_lead(
            url,
            DecodedForm(params=dict(params), warnings=[]),
            received_at=at or timezone.now(),
            client=VENDOR,
            dry_run=dry_run,
        )
    )


@pytest.fixture
def url(vendor_url):
    return vendor_url[0]


@pytest.fixture
def existing_lists(agency):
    for name, value in [
        (ListName.STATUS, "New Lead"),
        (ListName.LEAD_SOURCE, "Datalot"),
        (ListName.TYPE, "Prospect"),
        (ListName.PROJECT_CODE, "Q4"),
    ]:
        ListValue.objects.create(account=agency, list_name=name, value=value)


def test_full_post_stores_every_field_normalised(url, alice, bob, existing_lists):
    outcome = receive(url, FULL_POST)
    assert outcome.status == 200, outcome.body
    assert outcome.body["warnings"] == []
    r = Record.objects.get(pk=outcome.body["recordId"])
    assert (r.first_name, r.last_name, r.middle_initial, r.title) == ("John", "Doe", "Q", "Mr.")
    assert r.birth_date == dt.date(1980, 4, 15)
    assert r.lead_date == dt.date(2026, 11, 20)
    assert (r.gender, r.smoker_status) == ("M", "N")
    assert r.email == "John.Doe@example.com"
    assert (r.status.value, r.lead_source.value, r.type.value, r.project_code.value) == (
        "New Lead",
        "Datalot",
        "Prospect",
        "Q4",
    )
    assert (r.home_phone, r.cell_phone, r.business_phone) == (
        "(319) 555-0100",
        "(319) 555-0101",
        "(319) 555-0102",
    )
    assert (r.street1, r.street2, r.city, r.state, r.zip_code, r.county) == (
        "1 Main St",
        "Apt 2",
        "Iowa City",
        "IA",
        "52240",
        "Johnson County",
    )
    assert r.lead_source_other == "TV ad"
    assert (r.servicing_agent, r.lead_source_agent) == (alice, bob)
    assert r.external_id == "DL-1001"
    assert r.ssn_masked == "***-**-6789"
    # No new list entries: "new lead" matched "New Lead" ignoring case.
    assert ListValue.objects.count() == 4


def test_full_post_needs_few_sql_statements(
    url, alice, bob, existing_lists, django_assert_max_num_queries
):
    # Without what a process keeps between posts (test_config_cache.py has the warm count):
    # value lists, agents, custom-field definitions and the account's webhook types (one query
    # each), the record and the post-log inserts, the agent's e-mail (SPEC §12), the
    # transaction's own statements, and the cross-vendor duplicate look-up with the INSERT of
    # the lead's match keys (SPEC §14: a first lead has keys to write).
    with django_assert_max_num_queries(11):
        outcome = receive(url, FULL_POST)
    assert outcome.status == 200


def test_missing_list_values_are_created_once(url, agency):
    receive(url, {"firstName": "A", "lastName": "B", "status": "  Hot   Lead ", "leadSource": "X"})
    receive(url, {"firstName": "C", "lastName": "D", "status": "hot lead"})
    statuses = ListValue.objects.filter(account=agency, list_name=ListName.STATUS)
    assert [s.value for s in statuses] == ["Hot Lead"]
    assert Record.objects.filter(status=statuses[0]).count() == 2


def test_value_lists_are_per_account(url, other_agency):
    ListValue.objects.create(account=other_agency, list_name=ListName.STATUS, value="Hot")
    outcome = receive(url, {"firstName": "A", "lastName": "B", "status": "Hot"})
    record = Record.objects.get(pk=outcome.body["recordId"])
    assert record.status.account_id == url.account_id


def test_url_default_lead_source_applies_when_none_posted(url):
    url.default_lead_source = "Datalot"
    url.save()
    first = receive(url, {"firstName": "A", "lastName": "B"})
    second = receive(url, {"firstName": "A", "lastName": "B", "leadSource": "TV"})
    assert Record.objects.get(pk=first.body["recordId"]).lead_source.value == "Datalot"
    assert Record.objects.get(pk=second.body["recordId"]).lead_source.value == "TV"


def test_lead_date_defaults_to_the_day_in_the_account_time_zone(url):
    # 03:00 UTC on Nov 21 is still Nov 20 in Iowa (America/Chicago).
    at = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)
    outcome = receive(url, {"firstName": "A", "lastName": "B"}, at=at)
    assert Record.objects.get(pk=outcome.body["recordId"]).lead_date == dt.date(2026, 11, 20)


@pytest.mark.parametrize(
    ("first", "last", "code"),
    [("alice", "Agent", "agent_not_found"), ("Alice", "Agents", "agent_not_found")],
)
def test_agent_names_match_exactly(url, alice, first, last, code):
    outcome = receive(
        url,
        {
            "firstName": "A",
            "lastName": "B",
            "servicingAgentFirstName": first,
            "servicingAgentLastName": last,
        },
    )
    assert outcome.status == 200
    assert Record.objects.get(pk=outcome.body["recordId"]).servicing_agent is None
    assert [(w["field"], w["code"]) for w in outcome.body["warnings"]] == [
        ("servicingAgentFirstName", code)
    ]


def test_agent_name_is_trimmed(url, alice):
    outcome = receive(
        url,
        {
            "firstName": "A",
            "lastName": "B",
            "servicingAgentFirstName": " Alice ",
            "servicingAgentLastName": "Agent ",
        },
    )
    assert Record.objects.get(pk=outcome.body["recordId"]).servicing_agent == alice


def test_inactive_and_other_account_users_are_not_agents(url, alice, other_agency):
    alice.is_active = False
    alice.save()
    User.objects.create(account=other_agency, username="a2", first_name="Alice", last_name="Agent")
    outcome = receive(
        url,
        {
            "firstName": "A",
            "lastName": "B",
            "servicingAgentFirstName": "Alice",
            "servicingAgentLastName": "Agent",
        },
    )
    assert Record.objects.get(pk=outcome.body["recordId"]).servicing_agent is None
    assert outcome.body["warnings"][0]["code"] == "agent_not_found"


def test_two_users_with_the_same_name_assign_nobody(url, alice, agency):
    User.objects.create(account=agency, username="alice2", first_name="Alice", last_name="Agent")
    outcome = receive(
        url,
        {
            "firstName": "A",
            "lastName": "B",
            "servicingAgentFirstName": "Alice",
            "servicingAgentLastName": "Agent",
        },
    )
    assert Record.objects.get(pk=outcome.body["recordId"]).servicing_agent is None
    assert outcome.body["warnings"][0]["code"] == "agent_ambiguous"


def test_auto_in_individual_mode_is_warned_not_routed(url, alice):
    outcome = receive(url, {"firstName": "A", "lastName": "B", "servicingAgentFirstName": "Auto"})
    assert Record.objects.get(pk=outcome.body["recordId"]).servicing_agent is None
    assert ("servicingAgentFirstName", "routing_unavailable") in [
        (w["field"], w["code"]) for w in outcome.body["warnings"]
    ]


def test_ssn_is_encrypted_indexed_and_masked(url):
    outcome = receive(url, {"firstName": "A", "lastName": "B", "ssn": "123456789"})
    record = Record.objects.get(pk=outcome.body["recordId"])
    assert "123456789" not in record.ssn_encrypted
    assert decrypt_ssn(record.ssn_encrypted) == "123456789"
    assert record.ssn_index == ssn_index("123456789")
    assert Record.objects.filter(ssn_index=ssn_index("123456789")).count() == 1
    assert record.ssn_masked == "***-**-6789"


def _every_stored_text() -> str:
    """Every text column of every table, as one string: where an SSN in clear would show up."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                chunks.extend(str(v) for v in row if v is not None)
    return "\n".join(chunks)


def test_no_ssn_in_clear_anywhere_in_the_database(url):
    receive(url, {"firstName": "A", "lastName": "B", "ssn": "123-45-6789"})
    receive(url, {"firstName": "A", "lastName": "B", "ssn": "123-45-678"})  # invalid: dropped
    receive(url, {"firstName": "A", "ssn": "987-65-4321"})  # rejected post, still logged
    receive(url, {"firstName": "A", "lastName": "B", "SSN": "555-12-3456"})  # misspelt name
    receive(url, {"firstName": "A", "lastName": "B", "ssn": "111-22-3333"}, dry_run=True)
    stored = _every_stored_text()
    for digits in ("123456789", "12345678", "987654321", "555123456", "111223333"):
        assert digits not in stored.replace("-", "").replace(" ", "")
    assert PostLog.objects.count() == 5
    assert "***-**-6789" in stored  # the log keeps the masked form


def test_post_log_keeps_the_redacted_parameters(url):
    outcome = receive(
        url,
        {
            "firstName": "A",
            "lastName": "B",
            "ssn": "123-45-6789",
            "birthDate": "13/45/1980",
            "attachment_note_1_file_body_1": "aGVsbG8=",
        },
    )
    log = PostLog.objects.get(pk=outcome.post_id)
    assert log.params["ssn"] == "***-**-6789"
    assert log.params["birthDate"] == "13/45/1980"  # the bad value is kept in the log
    assert log.params["attachment_note_1_file_body_1"]["bytes"] == 8
    assert (log.client_ip, log.user_agent) == ("203.0.113.7", "Datalot/2.1")
    assert any(w["field"] == "birthDate" for w in log.warnings)
    assert "123-45-6789" not in json.dumps(outcome.body)
