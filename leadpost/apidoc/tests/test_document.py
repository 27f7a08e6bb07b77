"""The OpenAPI document holds the API as it is: every route, every parameter the parser reads,
and every field of real answers (validated against the document's own response schemas)."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator

from leadpost.accounts.models import Account, ApiToken
from leadpost.apidoc.document import PARAMETER_RULES, build_document
from leadpost.intake import views as intake_views
from leadpost.intake.config import bump_config_version
from leadpost.intake.models import LeadPostUrl
from leadpost.intake.notes_parse import NOTE_PARAMETER_NAMES
from leadpost.intake.parse import STANDARD_PARAMETERS, is_known_parameter
from leadpost.lib.choices import RecordType
from leadpost.records.models import CustomField, FieldType
from leadpost.records.tests.test_api_cursor import settle
from leadpost.returns.models import RecordReturn, ReturnReason
from leadpost.routing.models import AgentProfile, PoolMember, RoutingRule

FORM = "application/x-www-form-urlencoded"
DOCUMENT = build_document()


def strict(schema: Any) -> Any:
    """The schema with every described object closed: a field the document does not name fails.

    The served document leaves objects open (clients should accept fields added later); the
    tests close them, so a field added to an answer without its description here fails.
    """
    if isinstance(schema, dict):
        closed = {key: strict(value) for key, value in schema.items()}
        open_keys = ("additionalProperties", "patternProperties")
        if "properties" in schema and not any(key in schema for key in open_keys):
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


STRICT = strict(copy.deepcopy(DOCUMENT))


def described(response: Any, method: str, path: str) -> Any:
    """Assert `response` is an answer the document allows for `method path` (status, content
    type, headers, body schema); the JSON body, if any."""
    operation = STRICT["paths"][path][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path}: {status} is not described"
    answer = operation["responses"][status]
    for name, header in answer.get("headers", {}).items():
        if header.get("required"):
            assert response.has_header(name), f"{method} {path} {status}: no {name} header"
    content = answer.get("content", {})
    if not content:
        return None
    media = response["Content-Type"].split(";")[0].strip()
    if media not in content:
        assert "*/*" in content, f"{method} {path} {status}: {media} is not described"
        return None
    if media != "application/json":
        return None
    body = json.loads(
        b"".join(response.streaming_content) if response.streaming else response.content
    )
    schema = {**content[media]["schema"], "components": STRICT["components"]}
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{method} {path} {status}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5]
    )
    return body


# --------------------------------------------------------------------------- the document itself


def test_the_served_document_is_openapi_3_1_and_needs_no_token(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    served = response.json()
    assert served == DOCUMENT
    assert served["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(served).validate()


def test_the_document_holds_no_secret(
    client: Client, vendor_url: tuple[LeadPostUrl, str], api_token: str, settings: Any
) -> None:
    text = client.get("/api/v1/openapi.json").content.decode()
    page = client.get("/api/v1/docs").content.decode()
    for secret in (vendor_url[1], api_token, settings.SECRET_KEY):
        assert secret not in text
        assert secret not in page
    # Nothing of any account either: the same document for everyone.
    assert "Hawkeye" not in text and "Datalot" not in text


def _openapi_path(prefix: str, pattern: URLPattern) -> str:
    """A route of the URLconf as an OpenAPI path template."""
    route = str(pattern.pattern)
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)  # re_path(r"(?P<token>[^/]+)")
    route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)  # path("x/<int:id>")
    route = route.removeprefix("^").removesuffix("$").removesuffix("/?")
    return "/" + prefix + route


def _routes() -> dict[str, Any]:
    routes: dict[str, Any] = {}
    for entry in get_resolver().url_patterns:
        if not isinstance(entry, URLResolver):
            continue
        prefix = str(entry.pattern)
        if prefix not in ("", "api/v1/"):
            continue  # admin/ and staff/: pages for people with a login, not the API
        for pattern in entry.url_patterns:
            assert isinstance(pattern, URLPattern)
            path = _openapi_path(prefix, pattern)
            # Beside the lead endpoint, the root URLconf holds pages for people (the shared
            # vendor's guide): the API is /leadpost/ and /api/v1/.
            if path.startswith(("/leadpost", "/api/v1/")):
                routes[path] = pattern.callback
    return routes


def test_every_route_of_the_api_and_the_lead_endpoint_is_in_the_document() -> None:
    routes = _routes()
    # Any other path under /leadpost/ is the unknown URL's 404, described on the lead endpoint.
    catch_all = [path for path, view in routes.items() if view is intake_views.no_such_url]
    assert len(catch_all) == 1
    del routes[catch_all[0]]
    assert "/leadpost/{token}" in routes and "/api/v1/records/{record_id}" in routes
    assert set(routes) == set(DOCUMENT["paths"])
    # Each path's parameters are the route's own.
    for path, item in DOCUMENT["paths"].items():
        for operation in item.values():
            named = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert named == set(re.findall(r"{(\w+)}", path)), path


def test_the_lead_form_is_the_parsers_table() -> None:
    form = DOCUMENT["components"]["schemas"]["LeadForm"]
    assert set(form["properties"]) == STANDARD_PARAMETERS | set(NOTE_PARAMETER_NAMES)
    assert all(is_known_parameter(name) for name in form["properties"])
    # Every standard parameter has its own rule, not the fallback.
    assert set(PARAMETER_RULES) == STANDARD_PARAMETERS
    (custom,) = form["patternProperties"]
    assert re.search(custom, "custom_Favorite Color") and is_known_parameter(
        "custom_Favorite Color"
    )
    assert not re.search(custom, "custom_")
    assert form["required"] == ["firstName", "lastName"]
    ignored = [n for n, s in form["properties"].items() if "Sales Records" in s["description"]]
    assert set(ignored) == {
        "type",
        "projectCode",
        "leadSourceOther",
        "businessPhone",
        "leadSourceAgentFirstName",
        "leadSourceAgentLastName",
    }


def test_the_page_for_people_shows_every_operation_and_schema(client: Client) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    for path, item in DOCUMENT["paths"].items():
        assert f"<code>{path}</code>" in page
        for operation in item.values():
            assert f'id="{operation["operationId"]}"' in page
    for name in DOCUMENT["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    assert "<code>birthDate</code>" in page and "<code>^custom_.+$</code>" in page
    assert "Retry-After" in page and "over_cap" in page
    assert client.post("/api/v1/docs").status_code == 405


# --------------------------------------------------------------------------- real answers


def _post(client: Client, token: str, data: dict[str, str], suffix: str = "", **extra: Any) -> Any:
    return client.post(
        f"/leadpost/{token}{suffix}", data=urlencode(data), content_type=FORM, **extra
    )


PDF = b"%PDF-1.4 a small file\n"
LEAD = {
    "firstName": "Jane",
    "lastName": "Roe",
    "middleInitial": "q.",
    "birthDate": "02/14/1980",
    "ssn": "123-45-6789",
    "gender": "f",
    "smokerStatus": "n",
    "email": "jane.roe@example.com",
    "homePhone": "319-555-0100",
    "cellPhone": "319-555-0101",
    "businessPhone": "319-555-0102",
    "street1": "1 Main St",
    "city": "Iowa City",
    "zip": "52240",
    "county": "Johnson",
    "status": "New",
    "leadSource": "Datalot",
    "type": "Medicare",
    "projectCode": "Q4",
    "leadSourceOther": "TV",
    "title": "Dr.",
    "externalID": "DL-1",
    "servicingAgentFirstName": "Alice",
    "servicingAgentLastName": "Agent",
    "leadSourceAgentFirstName": "Bob",
    "leadSourceAgentLastName": "Broker",
    "custom_Tier": "Gold",
    "custom_Interests": "Golf||Boating",
    "custom_Nickname": "JR",
    "custom_Nope": "x",
    # SPEC §14's consent evidence: the record's `consent` and the dry run's answer carry it.
    "xxTrustedFormCertUrl": "https://cert.trustedform.com/0123456789abcdef0123456789abcdef01234567",
    "leadid_token": "01234567-89AB-CDEF-0123-456789ABCDEF",
    "tcpaConsentText": "I agree to be called.",
    "ipAddress": "203.0.113.7",
    "landingPageUrl": "https://example.com/quote",
    "FirstNme": "typo",
    "attachment_note_1_subject_text": "Call notes",
    "attachment_note_1_body_text": "Wants a call after 5",
    "attachment_note_1_pinned": "1",
    "attach_file_to_note_1": "1",
    "attachment_note_1_file_name_1": "quote.pdf",
    "attachment_note_1_file_body_1": base64.b64encode(PDF).decode(),
    "attachment_note_1_file_name_2": "later.pdf",
    "attachment_note_1_file_url_2": "https://files.example.com/later.pdf",
    "attachment_note_2_subject_text": "Second",
    "attachment_note_2_body_text": "plain",
}


@pytest.fixture
def fields(agency: Account) -> None:
    for name, kind, options in (
        ("Tier", FieldType.DROPDOWN, ["Gold", "Silver"]),
        ("Interests", FieldType.CHECKBOX_LIST, ["Boating", "Golf"]),
        ("Nickname", FieldType.TEXT_FIELD, []),
    ):
        CustomField.objects.create(
            account=agency,
            entity_type=RecordType.INDIVIDUAL,
            name=name,
            field_type=kind,
            options=options,
        )


def test_lead_answers_are_described(
    client: Client, vendor_url: tuple[LeadPostUrl, str], alice: Any, bob: Any, fields: None
) -> None:
    url, token = vendor_url
    lead = "/leadpost/{token}"
    created = described(_post(client, token, LEAD), "POST", lead)
    assert created["result"] == "created" and created["warnings"]
    duplicate = described(_post(client, token, LEAD), "POST", lead)
    assert duplicate["result"] == "duplicate"
    test = described(_post(client, token, LEAD, "/test"), "POST", lead + "/test")
    assert test["result"] == "test" and test["wouldBe"] == "duplicate"
    fresh = described(
        _post(client, token, {**LEAD, "externalID": "DL-2"}, "/test"), "POST", lead + "/test"
    )
    assert fresh["wouldBe"] == "created"
    rejected = described(_post(client, token, {"lastName": "Roe"}), "POST", lead)
    assert rejected["result"] == "rejected"
    assert described(client.get(f"/leadpost/{token}"), "POST", lead)["errors"][0]["code"] == (
        "method_not_allowed"
    )
    multipart = client.post(f"/leadpost/{token}", data={"firstName": "Jane", "lastName": "Roe"})
    assert described(multipart, "POST", lead)["errors"][0]["code"] == "unsupported_media_type"
    odd_charset = _post(client, token, LEAD, CONTENT_TYPE=f"{FORM}; charset=x-nope")
    assert odd_charset.status_code == 415
    described(odd_charset, "POST", lead)
    assert described(_post(client, "no-such-token", LEAD), "POST", lead)["result"] == "error"

    url.cap_per_day = 1
    url.save()
    bump_config_version(url.account_id)  # as the URL's staff form does
    # A cap counts the records created while it is set: the first uses it up.
    assert described(_post(client, token, {**LEAD, "externalID": "DL-3"}), "POST", lead)
    over = described(_post(client, token, {**LEAD, "externalID": "DL-3b"}), "POST", lead)
    assert over["result"] == "over_cap" and over["cap"]["period"] == "day"
    capped_test = described(
        _post(client, token, {**LEAD, "externalID": "DL-4"}, "/test"), "POST", lead + "/test"
    )
    assert capped_test["wouldBe"] == "over_cap" and "cap" in capped_test

    url.cap_per_day = None
    url.rate_limit_per_minute = 1
    url.save()
    bump_config_version(url.account_id)
    _post(client, token, {**LEAD, "externalID": "DL-5"})
    limited = _post(client, token, {**LEAD, "externalID": "DL-6"})
    assert limited.status_code == 429
    assert described(limited, "POST", lead)["errors"][0]["code"] == "rate_limited"


def test_too_large_is_described(
    client: Client, vendor_url: tuple[LeadPostUrl, str], settings: Any
) -> None:
    settings.LEADPOST_MAX_BODY_BYTES = 1024
    response = _post(client, vendor_url[1], {"firstName": "J" * 2000, "lastName": "Roe"})
    assert response.status_code == 413
    described(response, "POST", "/leadpost/{token}")


def _bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# Committed: on PostgreSQL the list shows only records of finished transactions (records/views.py).
@pytest.mark.django_db(transaction=True)
def test_read_api_answers_are_described(
    client: Client,
    vendor_url: tuple[LeadPostUrl, str],
    api_token: str,
    alice: Any,
    bob: Any,
    fields: None,
    other_agency: Account,
) -> None:
    token = vendor_url[1]
    record_id = _post(client, token, LEAD).json()["recordId"]
    _post(client, token, {"firstName": "Min", "lastName": "Imal"})
    _post(client, token, {"lastName": "Only"})
    auth = _bearer(api_token)

    settle()  # on PostgreSQL, what other sessions have open holds the list back
    page = described(client.get("/api/v1/records", **auth), "GET", "/api/v1/records")
    assert len(page["records"]) == 2 and page["hasMore"] is False
    one = described(
        client.get(f"/api/v1/records/{record_id}", **auth), "GET", "/api/v1/records/{record_id}"
    )
    assert one["customFields"] == {
        "Interests": ["Golf", "Boating"],
        "Nickname": "JR",
        "Tier": "Gold",
    }
    assert one["leadSourceAgent"]["firstName"] == "Bob" and one["ssn"] == "***-**-6789"
    assert one["returned"] is None
    assert one["consent"]["ipAddress"] == "203.0.113.7"
    assert one["consent"]["claim"]["state"] == "no_key"
    RecordReturn.objects.create(
        account=vendor_url[0].account,
        record_id=record_id,
        lead_post_url=vendor_url[0],
        reason=ReturnReason.BAD_PHONE,
        note="disconnected",
        returned_on=dt.date.today(),
        returned_by=alice,
    )
    returned = described(
        client.get(f"/api/v1/records/{record_id}", **auth), "GET", "/api/v1/records/{record_id}"
    )
    assert returned["returned"]["reason"] == "bad_phone"
    # The same phone through another vendor's URL: flagged as a possible duplicate (SPEC §14).
    other_token = LeadPostUrl.issue(vendor_url[0].account, "Acme Leads")[1]
    again = _post(
        client, other_token, {"firstName": "Jo", "lastName": "Dup", "cellPhone": LEAD["cellPhone"]}
    )
    flagged = described(
        client.get(f"/api/v1/records/{again.json()['recordId']}", **auth),
        "GET",
        "/api/v1/records/{record_id}",
    )
    assert flagged["possibleDuplicateOf"]["recordId"] == record_id
    assert flagged["possibleDuplicateOf"]["matchedOn"] == ["phone"]
    files = {a["fileName"]: a for note in one["notes"] for a in note["attachments"]}
    assert files["quote.pdf"]["state"] == "stored" and files["later.pdf"]["state"] == "pending"

    content = "/api/v1/attachments/{attachment_id}/content"
    download = client.get(files["quote.pdf"]["contentUrl"], **auth)
    described(download, "GET", content)
    assert b"".join(download.streaming_content) == PDF
    pending = client.get(f"/api/v1/attachments/{files['later.pdf']['id']}/content", **auth)
    assert described(pending, "GET", content)["error"]["code"] == "not_stored"
    described(client.get("/api/v1/attachments/999999/content", **auth), "GET", content)

    stranger = _bearer(ApiToken.issue(other_agency, "theirs")[1])
    for path, template in (
        (f"/api/v1/records/{record_id}", "/api/v1/records/{record_id}"),
        (f"/api/v1/vendors/{vendor_url[0].pk}", "/api/v1/vendors/{url_id}"),
        ("/api/v1/vendors/abc", "/api/v1/vendors/{url_id}"),
    ):
        assert described(client.get(path, **stranger), "GET", template)["error"]["code"] == (
            "not_found"
        )
    for path, template in (
        ("/api/v1/records", "/api/v1/records"),
        ("/api/v1/vendors", "/api/v1/vendors"),
        (f"/api/v1/records/{record_id}", "/api/v1/records/{record_id}"),
    ):
        assert described(client.get(path), "GET", template)["error"]["code"] == "unauthorized"
        described(client.post(path, **auth), "GET", template)
    bad = client.get("/api/v1/records", {"after": "-1"}, **auth)
    assert described(bad, "GET", "/api/v1/records")["error"]["code"] == "invalid_parameter"
    assert client.get("/api/v1/records", {"limit": "x"}, **auth).status_code == 400


def test_vendor_figures_are_described(
    client: Client, vendor_url: tuple[LeadPostUrl, str], api_token: str, alice: Any, fields: None
) -> None:
    url, token = vendor_url
    url.price_per_lead = Decimal("14.00")
    url.save()
    _post(client, token, LEAD)
    _post(client, token, LEAD)
    _post(client, token, {"lastName": "Only"})
    _post(client, token, {**LEAD, "externalID": "x"}, "/test")
    client.get(f"/leadpost/{token}")
    auth = _bearer(api_token)
    listed = described(client.get("/api/v1/vendors", **auth), "GET", "/api/v1/vendors")
    (vendor,) = listed["vendors"]
    total = vendor["total"]
    assert (total["created"], total["duplicate"], total["rejected"], total["refused"]) == (
        1,
        1,
        1,
        1,
    )
    assert total["warnings"] and total["leadsPerAgent"]
    one = described(
        client.get(f"/api/v1/vendors/{url.pk}", {"period": "30"}, **auth),
        "GET",
        "/api/v1/vendors/{url_id}",
    )
    assert len(one["vendors"][0]["days"]) == 30
    csv = client.get("/api/v1/vendors", {"format": "csv"}, **auth)
    described(csv, "GET", "/api/v1/vendors")
    for params in ({"period": "8"}, {"to": "2026-01-01"}, {"format": "xml"}):
        described(client.get("/api/v1/vendors", params, **auth), "GET", "/api/v1/vendors")


def test_a_routed_sales_record_is_described(
    client: Client, premium: Account, vendor_url: tuple[LeadPostUrl, str], api_token: str
) -> None:
    from leadpost.accounts.models import User

    ann = User.objects.create(account=premium, username="ann", first_name="Ann", last_name="A")
    ben = User.objects.create(account=premium, username="ben", first_name="Ben", last_name="B")
    AgentProfile.objects.create(user=ann, licensed_states=["IL"])
    AgentProfile.objects.create(user=ben, licensed_states=["IA"])
    rule = RoutingRule.objects.create(account=premium, name="Iowa", states=["IA"])
    PoolMember.objects.create(rule=rule, agent=ann, order=0)
    PoolMember.objects.create(rule=rule, agent=ben, order=1)
    auto = {
        "firstName": "Lee",
        "lastName": "Dee",
        "servicingAgentFirstName": "Auto",
        "stateAbbrev": "IA",
        "zip": "52240",
        "type": "ignored in Sales Record mode",
    }
    token = vendor_url[1]
    test = described(_post(client, token, auto, "/test"), "POST", "/leadpost/{token}/test")
    assert test["routing"]["via"] == "rule" and test["recordType"] == "salesRecord"
    created = described(_post(client, token, auto), "POST", "/leadpost/{token}")
    assert created["routing"]["skipped"] and created["servicingAgent"]["firstName"] == "Ben"
    record = described(
        client.get(f"/api/v1/records/{created['recordId']}", **_bearer(api_token)),
        "GET",
        "/api/v1/records/{record_id}",
    )
    assert record["recordType"] == "salesRecord" and "type" not in record
    assert record["routing"]["rule"]["name"] == "Iowa"


def test_a_field_the_document_does_not_name_fails_the_check() -> None:
    page = {"records": [], "nextCursor": "0.0", "hasMore": False}
    schema = {**STRICT["components"]["schemas"]["RecordPage"], "components": STRICT["components"]}
    assert Draft202012Validator(schema).is_valid(page)
    assert not Draft202012Validator(schema).is_valid({**page, "undescribed": 1})


def test_unavailable_is_described(
    client: Client, vendor_url: tuple[LeadPostUrl, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(token_hash: str) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(intake_views, "config_for", locked)
    response = _post(client, vendor_url[1], {"firstName": "Jane", "lastName": "Roe"})
    assert response.status_code == 503
    body = described(response, "POST", "/leadpost/{token}")
    assert body["errors"][0]["code"] == "unavailable"
