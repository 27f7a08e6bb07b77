"""Sales Record mode (SPEC §5, §6, §10): switched by the Lead Post Utility, applied at once to every URL.

In this mode a post makes a Sales Record, ignores the Individuals-only fields with a warning, takes
its status from the Sales Record status list, and assigns only agents who see Sales Enablement.
"""

from __future__ import annotations

import pytest
from django.test import Client

from leadpost.accounts.models import Account, Permission, SecurityGroup
from leadpost.intake.models import LeadPostUrl
from leadpost.records.models import ListName, ListValue, Record, RecordType

FORM = "application/x-www-form-urlencoded"

INDIVIDUALS_ONLY = {
    "type": "Prospect",
    "projectCode": "P-7",
    "leadSourceOther": "Radio",
    "businessPhone": "319-555-0102",
    "leadSourceAgentFirstName": "Alice",
    "leadSourceAgentLastName": "Agent",
}


def read_back(client: Client, api_token: str, record_id: int) -> dict:
    response = client.get(f"/api/v1/records/{record_id}", HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert response.status_code == 200
    return response.json()


def switch(agency: Account, mode: RecordType, staff_member) -> str:
    """Switch the agency through the Lead Post Utility page, as its admin would; the message shown."""
    admin = Client()
    admin.force_login(
        staff_member(
            agency,
            f"admin-{mode}",
            Permission.SALES_ENABLEMENT,
            Permission.MANAGE_DATA,
        )
    )
    response = admin.post("/staff/lead-post-utility/", {"record_mode": mode}, follow=True)
    assert response.status_code == 200
    agency.refresh_from_db()
    assert agency.record_mode == mode
    return response.content.decode()


@pytest.fixture
def sales_mode(agency: Account) -> Account:
    agency.record_mode = RecordType.SALES_RECORD
    agency.save()
    return agency


def test_switching_modes_between_two_posts_to_one_url(
    client, post, api_token, agency, alice, staff_member
):
    first = post({"firstName": "Ida", "lastName": "Early", **INDIVIDUALS_ONLY}).json()
    assert (first["result"], first["recordType"]) == ("created", "individual")
    assert first["warnings"] == []

    shown = switch(agency, RecordType.SALES_RECORD, staff_member)
    assert "Lead Post now creates Sales Enablement Leads (Sales Records)" in shown

    second = post({"firstName": "Sam", "lastName": "Later", **INDIVIDUALS_ONLY}).json()
    assert (second["result"], second["recordType"]) == ("created", "salesRecord")
    assert {w["field"]: w["code"] for w in second["warnings"]} == {
        name: "ignored_in_sales_record_mode" for name in INDIVIDUALS_ONLY
    }

    individual = read_back(client, api_token, first["recordId"])
    sales_record = read_back(client, api_token, second["recordId"])
    assert individual["recordType"] == "individual"
    assert individual["type"] == "Prospect" and individual["businessPhone"] == "(319) 555-0102"
    assert individual["leadSourceAgent"]["firstName"] == "Alice"
    assert sales_record["recordType"] == "salesRecord"
    for key in ("type", "projectCode", "leadSourceOther", "businessPhone", "leadSourceAgent"):
        assert key not in sales_record
    stored = Record.objects.get(pk=second["recordId"])
    assert stored.record_type == RecordType.SALES_RECORD
    assert (stored.type, stored.project_code, stored.business_phone) == (None, None, "")
    assert stored.lead_source_other == "" and stored.lead_source_agent is None
    # Only the first post's type and project code were added to the lists.
    assert ListValue.objects.filter(account=agency, list_name=ListName.TYPE).count() == 1
    assert ListValue.objects.filter(account=agency, list_name=ListName.PROJECT_CODE).count() == 1


def test_the_switch_applies_to_every_url_of_the_account_at_once(
    client, agency, other_agency, staff_member
):
    urls = [LeadPostUrl.issue(agency, label)[1] for label in ("Datalot", "NextGen Leads")]
    theirs = LeadPostUrl.issue(other_agency, "Datalot")[1]
    shown = switch(agency, RecordType.SALES_RECORD, staff_member)
    assert "all 2 Lead Post URL(s) of Hawkeye Insurance switched at once" in shown

    def record_type(token: str) -> str:
        response = client.post(f"/leadpost/{token}", "firstName=A&lastName=B", content_type=FORM)
        return response.json()["recordType"]

    assert [record_type(token) for token in urls] == ["salesRecord", "salesRecord"]
    assert record_type(theirs) == "individual"
    switch(agency, RecordType.INDIVIDUAL, staff_member)
    assert [record_type(token) for token in urls] == ["individual", "individual"]


def test_the_utility_page_shows_the_current_mode(client, sales_mode, staff_member):
    client.force_login(
        staff_member(sales_mode, "ada", Permission.SALES_ENABLEMENT, Permission.MANAGE_DATA)
    )
    page = client.get("/staff/lead-post-utility/").content.decode()
    assert '<option value="sales_record" selected>' in page


def test_a_dry_run_in_sales_record_mode_says_so(post, sales_mode):
    answer = post({"firstName": "Sam", "lastName": "Later", "type": "Prospect"}, suffix="/test")
    body = answer.json()
    assert (body["result"], body["recordType"]) == ("test", "salesRecord")
    assert {w["field"]: w["code"] for w in body["warnings"]} == {
        "type": "ignored_in_sales_record_mode"
    }
    assert not Record.objects.exists()


def test_sales_record_status_uses_its_own_list(client, post, api_token, agency):
    individual = post({"firstName": "Ida", "lastName": "Early", "status": "Hot"}).json()
    agency.record_mode = RecordType.SALES_RECORD
    agency.save()
    ListValue.objects.create(account=agency, list_name=ListName.SALES_STATUS, value="Quoted")

    new_status = post({"firstName": "Sam", "lastName": "Later", "status": "hot"}).json()
    known_status = post({"firstName": "Sue", "lastName": "Later", "status": "  QUOTED "}).json()

    def statuses(name: ListName) -> list[str]:
        rows = ListValue.objects.filter(account=agency, list_name=name).order_by("value")
        return [row.value for row in rows]

    # "hot" is not matched to the Individuals' "Hot": it is new on the Sales Record list.
    assert statuses(ListName.STATUS) == ["Hot"]
    assert statuses(ListName.SALES_STATUS) == ["Quoted", "hot"]
    assert Record.objects.get(pk=new_status["recordId"]).status.list_name == ListName.SALES_STATUS
    assert read_back(client, api_token, individual["recordId"])["status"] == "Hot"
    assert read_back(client, api_token, new_status["recordId"])["status"] == "hot"
    assert read_back(client, api_token, known_status["recordId"])["status"] == "Quoted"


def test_agent_without_sales_enablement_is_not_assigned(post, sales_mode, alice):
    body = post(
        {
            "firstName": "Sam",
            "lastName": "Later",
            "servicingAgentFirstName": "Alice",
            "servicingAgentLastName": "Agent",
        }
    ).json()
    assert body["result"] == "created" and body["servicingAgent"] is None
    assert {w["field"]: w["code"] for w in body["warnings"]} == {
        "servicingAgentFirstName": "agent_lacks_sales_enablement"
    }
    assert Record.objects.get(pk=body["recordId"]).servicing_agent is None


def test_agent_with_sales_enablement_is_assigned(client, post, api_token, sales_mode, bob):
    sellers = SecurityGroup.objects.create(
        account=sales_mode, name="Sellers", sales_enablement_visible=True
    )
    bob.security_groups.add(sellers)
    body = post(
        {
            "firstName": "Sam",
            "lastName": "Later",
            "servicingAgentFirstName": "Bob",
            "servicingAgentLastName": "Broker",
        }
    ).json()
    assert body["warnings"] == []
    assert body["servicingAgent"] == {"id": bob.pk, "firstName": "Bob", "lastName": "Broker"}
    assert read_back(client, api_token, body["recordId"])["servicingAgent"]["id"] == bob.pk


def test_sales_enablement_granted_by_another_accounts_group_does_not_count(
    post, sales_mode, other_agency, bob
):
    theirs = SecurityGroup.objects.create(
        account=other_agency, name="Sellers", sales_enablement_visible=True
    )
    # A link from before the models refused it: what matching must still ignore.
    type(bob).security_groups.through.objects.create(user=bob, securitygroup=theirs)
    body = post(
        {
            "firstName": "Sam",
            "lastName": "Later",
            "servicingAgentFirstName": "Bob",
            "servicingAgentLastName": "Broker",
        }
    ).json()
    assert body["servicingAgent"] is None
    assert [w["code"] for w in body["warnings"]] == ["agent_lacks_sales_enablement"]


def test_individuals_need_no_sales_enablement(post, agency, alice):
    body = post(
        {
            "firstName": "Ida",
            "lastName": "Early",
            "servicingAgentFirstName": "Alice",
            "servicingAgentLastName": "Agent",
        }
    ).json()
    assert body["warnings"] == [] and body["servicingAgent"]["id"] == alice.pk


def test_staff_find_sales_records_on_their_own_page(client, post, sales_mode, staff_member):
    record_id = post({"firstName": "Sam", "lastName": "Later"}).json()["recordId"]
    client.force_login(staff_member(sales_mode, "sid", Permission.SALES_ENABLEMENT))
    found = client.get("/staff/records/salesrecord/", {"q": "Later"}).content.decode()
    assert f"/staff/records/salesrecord/{record_id}/change/" in found
    individuals = client.get("/staff/records/individual/", {"q": "Later"}).content.decode()
    assert f"/{record_id}/change/" not in individuals
