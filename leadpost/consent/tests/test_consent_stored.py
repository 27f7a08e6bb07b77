"""Consent evidence stored with its record and shown where the record is (SPEC §14): the read API,
webhook bodies, the record's staff page, the dry run's answer; and no cost to a post without it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from leadpost.accounts.models import Account, Permission
from leadpost.conftest import PostFn
from leadpost.consent.models import ClaimState, ConsentEvidence
from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.lib.encryption import encrypt_secret
from leadpost.records.tests.test_api_cursor import settle
from leadpost.webhooks.models import WebhookEvent
from leadpost.webhooks.tasks import event_body
from leadpost.webhooks.tests.conftest import subscribe

CERT = "https://cert.trustedform.com/eb9fc4dd9bed9ad451a5648946cf4bf09b5bb947"
LEADID = "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D"
EVIDENCE = {
    "xxTrustedFormCertUrl": CERT,
    "universal_leadid": LEADID.lower(),
    "tcpaConsentText": "By clicking <b>Submit</b> I agree to be called.",
    "ipAddress": "203.0.113.9",
    "landingPageUrl": "https://quotes.example.com/life",
}
CONSENT_JSON = {
    "trustedFormCertUrl": CERT,
    "leadiDToken": LEADID,
    "tcpaConsentText": "By clicking <b>Submit</b> I agree to be called.",
    "ipAddress": "203.0.113.9",
    "landingPageUrl": "https://quotes.example.com/life",
}


def lead(**fields: str) -> dict[str, str]:
    return {"firstName": "Jane", "lastName": "Doe", **fields}


def api(client: Client, api_token: str, record_id: int) -> Any:
    reply = client.get(f"/api/v1/records/{record_id}", HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert reply.status_code == 200
    return reply.json()


def test_evidence_is_stored_and_in_the_api_json(post: PostFn, client: Client, api_token: str):
    answer = post(lead(**EVIDENCE)).json()
    assert answer["result"] == "created" and answer["warnings"] == []
    data = api(client, api_token, answer["recordId"])
    # No TrustedForm key on the account: the certificate is kept, not claimed.
    assert data["consent"] == {
        **CONSENT_JSON,
        "claim": {
            "state": "no_key",
            "attempts": 0,
            "claimedAt": None,
            "expiresAt": None,
            "pageUrl": None,
            "consentText": None,
            "error": None,
        },
    }


@pytest.mark.django_db(transaction=True)  # the list shows committed records only (SPEC §11)
def test_the_record_list_shows_the_evidence(post: PostFn, client: Client, api_token: str):
    post(lead(**EVIDENCE))
    settle()  # on PostgreSQL, any session's open transaction holds the list's horizon back
    listed = client.get("/api/v1/records", HTTP_AUTHORIZATION=f"Bearer {api_token}").json()
    assert listed["records"][0]["consent"]["leadiDToken"] == LEADID


def test_evidence_without_a_certificate_has_no_claim(post: PostFn, client: Client, api_token: str):
    answer = post(lead(ipAddress="2001:db8::1")).json()
    consent = api(client, api_token, answer["recordId"])["consent"]
    assert consent["ipAddress"] == "2001:db8::1" and consent["claim"] is None
    assert consent["trustedFormCertUrl"] is None


def test_a_record_without_evidence_shows_null(post: PostFn, client: Client, api_token: str):
    answer = post(lead()).json()
    assert api(client, api_token, answer["recordId"])["consent"] is None
    assert not ConsentEvidence.objects.exists()


def test_bad_evidence_is_warned_and_the_lead_stored(post: PostFn, client: Client, api_token):
    answer = post(
        lead(
            xxTrustedFormCertUrl="https://cert.trustedform.com.evil.com/abcdefabcdefabcdefabcdef",
            ipAddress="999.1.1.1",
        )
    ).json()
    assert answer["result"] == "created"
    assert [(w["field"], w["code"]) for w in answer["warnings"]] == [
        ("xxTrustedFormCertUrl", "invalid_url"),
        ("ipAddress", "invalid_ip"),
    ]
    assert api(client, api_token, answer["recordId"])["consent"] is None
    log = PostLog.objects.get(pk=answer["postId"])
    assert log.params["ipAddress"] == "999.1.1.1"  # the post log keeps what was sent


def test_the_dry_run_shows_the_evidence(post: PostFn):
    answer = post(lead(**EVIDENCE, leadid_token="zz"), suffix="/test").json()
    assert answer["result"] == "test"
    assert answer["consent"] == CONSENT_JSON  # leadid_token is bad: universal_leadid is stored
    assert ("leadid_token", "invalid_format") in [
        (w["field"], w["code"]) for w in answer["warnings"]
    ]
    assert not ConsentEvidence.objects.exists()
    assert "consent" not in post(lead(), suffix="/test").json()


def test_the_webhook_body_carries_the_evidence(post: PostFn, agency: Account):
    subscribe(agency, "https://crm.example.com/hooks", ["record.created"])
    post(lead(**EVIDENCE))
    body = json.loads(event_body(WebhookEvent.objects.get(type="record.created")))
    assert {k: v for k, v in body["data"]["consent"].items() if k != "claim"} == CONSENT_JSON
    assert body["data"]["consent"]["claim"]["state"] == "no_key"


def test_the_record_page_shows_the_evidence_escaped(post: PostFn, agency, staff_member, client):
    record_id = post(lead(**EVIDENCE)).json()["recordId"]
    client.force_login(staff_member(agency, "dee", Permission.MANAGE_DATA))
    html = client.get(f"/staff/records/individual/{record_id}/change/").content.decode()
    assert 'id="consent-evidence"' in html
    for shown in (CERT, LEADID, "203.0.113.9", "https://quotes.example.com/life"):
        assert shown in html
    assert "&lt;b&gt;Submit&lt;/b&gt;" in html and "<b>Submit</b>" not in html
    assert "not claimed: the account has no TrustedForm API key" in html


def test_another_accounts_staff_cannot_see_the_record(
    post: PostFn, other_agency: Account, staff_member, client
):
    record_id = post(lead(**EVIDENCE)).json()["recordId"]
    client.force_login(staff_member(other_agency, "eve", Permission.MANAGE_DATA))
    page = client.get(f"/staff/records/individual/{record_id}/change/")
    assert page.status_code in (302, 404) and CERT not in page.content.decode()


# -- the hot path: a post without evidence runs exactly the statements it ran before -----------


FORM = "application/x-www-form-urlencoded"


def _statements(client: Client, token: str, external_id: str, **fields: str) -> list[str]:
    warm = urlencode(lead(externalID=f"{external_id}-warm"))
    client.post(f"/leadpost/{token}", warm, content_type=FORM)
    with CaptureQueriesContext(connection) as queries:
        reply = client.post(
            f"/leadpost/{token}",
            urlencode(lead(externalID=external_id, **fields)),
            content_type=FORM,
        )
    assert reply.status_code == 200
    return [q["sql"].split()[0].upper() for q in queries.captured_queries]


@pytest.mark.django_db(transaction=True)
def test_statements_per_post_without_and_with_evidence(vendor_url: tuple[LeadPostUrl, str]):
    url, token = vendor_url
    client = Client()
    # The URL and its account's version; the record and the post log (test_config_cache.py).
    assert _statements(client, token, "a") == ["SELECT", "BEGIN", "INSERT", "INSERT", "COMMIT"]
    # Evidence adds its row.
    with_evidence = _statements(client, token, "b", **EVIDENCE)
    assert with_evidence == ["SELECT", "BEGIN", *["INSERT"] * 3, "COMMIT"]
    assert ConsentEvidence.objects.get().claim_state == ClaimState.NO_KEY
    # With the account's TrustedForm key, the claim's task is enqueued with it.
    account = Account.objects.get(pk=url.account_id)
    account.trustedform_api_key = encrypt_secret("k")
    account.save()  # as the staff page saves it: the next post reads the account again
    with_claim = _statements(client, token, "c", **EVIDENCE)
    assert with_claim == ["SELECT", "BEGIN", *["INSERT"] * 4, "COMMIT"]
    assert ConsentEvidence.objects.get(record__external_id="c").claim_state == ClaimState.PENDING
