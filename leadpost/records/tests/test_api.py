"""The read API (SPEC §11): one record with every field, new records after a cursor, per account."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from leadpost.accounts.models import ApiToken
from leadpost.intake.models import LeadPostUrl
from leadpost.records.tests.test_api_cursor import settle

FORM = "application/x-www-form-urlencoded"

# The list shows only committed records (on PostgreSQL, only once every transaction that started
# writing before theirs has ended: see the cursor in views.py), so tests that read it commit what
# they post instead of keeping it in the test's own open transaction, and settle() before reading.
reads_the_list = pytest.mark.django_db(transaction=True)


def _get(client, path, token):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


def _post(client, token, **fields):
    response = client.post(f"/leadpost/{token}", urlencode(fields), content_type=FORM)
    assert response.status_code == 200, response.content
    return response.json()["recordId"]


def test_record_detail_shows_every_field_normalised(client, vendor_url, api_token, alice):
    record_id = _post(
        client,
        vendor_url[1],
        firstName="John",
        lastName="Doe",
        middleInitial="q",
        title="Mr.",
        birthDate="4/5/1980",
        ssn="123456789",
        gender="m",
        smokerStatus="y",
        email="JD@Example.com",
        status="new",
        leadSource="Datalot",
        leadDate="11/20/2026",
        externalID="e-1",
        homePhone="3195550100",
        cellPhone="319-555-0101",
        businessPhone="(319)5550102",
        street1="1 Main",
        street2="B",
        city="Iowa City",
        stateAbbrev="ia",
        zip="522401234",
        county="Johnson County",
        type="Prospect",
        projectCode="P1",
        leadSourceOther="Radio",
        servicingAgentFirstName="Alice",
        servicingAgentLastName="Agent",
    )
    response = _get(client, f"/api/v1/records/{record_id}", api_token)
    assert response.status_code == 200
    data = response.json()
    assert data == {
        "id": record_id,
        "recordType": "individual",
        "createdAt": data["createdAt"],
        "leadPostUrl": {"id": vendor_url[0].pk, "label": "Datalot"},
        "externalID": "e-1",
        "firstName": "John",
        "lastName": "Doe",
        "middleInitial": "Q",
        "title": "Mr.",
        "birthDate": "04/05/1980",
        "leadDate": "11/20/2026",
        "ssn": "***-**-6789",
        "gender": "M",
        "smokerStatus": "Y",
        "email": "JD@example.com",
        "status": "new",
        "leadSource": "Datalot",
        "homePhone": "(319) 555-0100",
        "cellPhone": "(319) 555-0101",
        "street1": "1 Main",
        "street2": "B",
        "city": "Iowa City",
        "stateAbbrev": "IA",
        "zip": "52240-1234",
        "county": "Johnson County",
        "servicingAgent": {"id": alice.pk, "firstName": "Alice", "lastName": "Agent"},
        "type": "Prospect",
        "projectCode": "P1",
        "leadSourceOther": "Radio",
        "businessPhone": "(319) 555-0102",
        "leadSourceAgent": None,
        "routing": None,
        "possibleDuplicateOf": None,
        "customFields": {},
        "notes": [],
        "returned": None,
        "consent": None,
    }


@reads_the_list
def test_list_pages_through_new_records_with_a_cursor(client, vendor_url, api_token):
    ids = [_post(client, vendor_url[1], firstName=f"N{i}", lastName="X") for i in range(5)]
    settle()
    page1 = _get(client, "/api/v1/records?limit=2", api_token).json()
    assert [r["id"] for r in page1["records"]] == ids[:2]
    assert page1["hasMore"] is True
    page2 = _get(client, f"/api/v1/records?limit=2&after={page1['nextCursor']}", api_token).json()
    page3 = _get(client, f"/api/v1/records?limit=2&after={page2['nextCursor']}", api_token).json()
    assert [r["id"] for r in page2["records"] + page3["records"]] == ids[2:]
    assert page3["hasMore"] is False
    empty = _get(client, f"/api/v1/records?after={page3['nextCursor']}", api_token).json()
    assert empty == {"records": [], "nextCursor": page3["nextCursor"], "hasMore": False}
    newer = _post(client, vendor_url[1], firstName="Late", lastName="Comer")
    settle()
    later = _get(client, f"/api/v1/records?after={page3['nextCursor']}", api_token).json()
    assert [r["id"] for r in later["records"]] == [newer]


@reads_the_list
def test_other_accounts_records_are_invisible(client, vendor_url, api_token, other_agency):
    _, other_url_token = LeadPostUrl.issue(other_agency, "NextGen")
    theirs = _post(client, other_url_token, firstName="Secret", lastName="Lead")
    ours = _post(client, vendor_url[1], firstName="Our", lastName="Lead")
    settle()
    assert _get(client, f"/api/v1/records/{theirs}", api_token).status_code == 404
    listed = _get(client, "/api/v1/records", api_token).json()["records"]
    assert [r["id"] for r in listed] == [ours]
    _, their_token = ApiToken.issue(other_agency)
    assert _get(client, f"/api/v1/records/{ours}", their_token).status_code == 404
    assert _get(client, f"/api/v1/records/{theirs}", their_token).status_code == 200


@pytest.mark.parametrize(
    "header",
    [None, "Bearer nope", "Basic dXNlcjpwYXNz", "Bearer "],
)
def test_missing_or_wrong_token_is_401(client, vendor_url, api_token, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/api/v1/records", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_401(client, agency):
    row, token = ApiToken.issue(agency)
    assert _get(client, "/api/v1/records", token).status_code == 200
    row.revoked_at = row.created_at
    row.save()
    assert _get(client, "/api/v1/records", token).status_code == 401


def test_bad_cursor_is_400(client, api_token):
    response = _get(client, "/api/v1/records?after=abc", api_token)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"


def test_api_is_read_only(client, api_token):
    response = client.post("/api/v1/records", {}, HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert response.status_code == 405


def test_api_tokens_are_stored_hashed(agency):
    row, token = ApiToken.issue(agency)
    assert token not in (row.token_hash, row.prefix)
    assert len(token) >= 32
