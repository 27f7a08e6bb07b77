"""The Lead Post endpoint over HTTP: status codes, headers and bodies of SPEC §2–§3.

The domain rules (fields, leniency) are tested without HTTP in test_parse.py and test_receive.py;
here every answer a vendor can get is provoked once, and every bad input answers without a 500.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client, override_settings

from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.records.models import Record

FORM = "application/x-www-form-urlencoded"
NAMES = {"firstName": "John", "lastName": "Doe"}


def _body(response) -> dict:
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def test_created_answers_200_with_record_and_post_id(post, vendor_url):
    response = post(NAMES)
    body = _body(response)
    assert response.status_code == 200
    assert body["result"] == "created"
    assert body["recordType"] == "individual"
    record = Record.objects.get(pk=body["recordId"])
    assert (record.first_name, record.last_name) == ("John", "Doe")
    assert record.lead_post_url == vendor_url[0]
    assert response["X-Lead-Post-Id"] == str(body["postId"])
    log = PostLog.objects.get(pk=body["postId"])
    assert (log.status_code, log.result, log.record_id) == (200, "created", record.pk)


def test_trailing_slash_works_without_redirect(client, vendor_url):
    response = client.post(f"/leadpost/{vendor_url[1]}/", urlencode(NAMES), content_type=FORM)
    assert response.status_code == 200
    assert _body(response)["result"] == "created"


def test_missing_names_is_rejected_400_and_logged(post):
    response = post({"firstName": "John", "email": "j@example.com"})
    body = _body(response)
    assert response.status_code == 400
    assert body["result"] == "rejected"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("lastName", "required")]
    assert Record.objects.count() == 0
    log = PostLog.objects.get(pk=int(response["X-Lead-Post-Id"]))
    assert (log.status_code, log.result) == (400, "rejected")
    assert log.params == {"firstName": "John", "email": "j@example.com"}


def test_duplicate_external_id_returns_existing_record(post):
    first = _body(post({**NAMES, "externalID": "dl-1"}))
    again = post({**NAMES, "externalID": "dl-1", "email": "other@example.com"})
    body = _body(again)
    assert again.status_code == 200
    assert body["result"] == "duplicate"
    assert body["recordId"] == first["recordId"]
    assert Record.objects.count() == 1
    assert PostLog.objects.get(pk=body["postId"]).result == "duplicate"


def test_external_id_is_unique_per_account_not_globally(post, client, other_agency):
    post({**NAMES, "externalID": "dl-1"})
    _, token = LeadPostUrl.issue(other_agency, "Datalot")
    response = client.post(
        f"/leadpost/{token}", urlencode({**NAMES, "externalID": "dl-1"}), content_type=FORM
    )
    assert _body(response)["result"] == "created"
    assert Record.objects.count() == 2


def test_dry_run_stores_nothing_but_the_log(post, alice):
    response = post(
        {
            **NAMES,
            "status": "Brand New",
            "birthDate": "02/30/1980",
            "servicingAgentFirstName": "Alice",
            "servicingAgentLastName": "Agent",
        },
        suffix="/test",
    )
    body = _body(response)
    assert response.status_code == 200
    assert body["result"] == "test"
    assert body["wouldBe"] == "created"
    assert body["servicingAgent"]["id"] == alice.pk
    assert {"list": "status", "value": "Brand New"} in body["newListValues"]
    assert any(w["field"] == "birthDate" for w in body["warnings"])
    assert Record.objects.count() == 0
    log = PostLog.objects.get(pk=body["postId"])
    assert log.dry_run and log.result == "test"


def test_dry_run_reports_a_duplicate(post):
    created = _body(post({**NAMES, "externalID": "x-9"}))
    body = _body(post({**NAMES, "externalID": "x-9"}, suffix="/test/"))
    assert (body["result"], body["wouldBe"], body["recordId"]) == (
        "test",
        "duplicate",
        created["recordId"],
    )


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_other_methods_get_405_with_allow(client, vendor_url, method):
    response = getattr(client, method)(f"/leadpost/{vendor_url[1]}")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert _body(response)["errors"][0]["code"] == "method_not_allowed"


def test_unknown_and_disabled_urls_get_the_same_404(client, vendor_url):
    unknown = client.post("/leadpost/not-a-real-token", urlencode(NAMES), content_type=FORM)
    url, token = vendor_url
    url.enabled = False
    url.save()
    disabled = client.post(f"/leadpost/{token}", urlencode(NAMES), content_type=FORM)
    assert unknown.status_code == disabled.status_code == 404
    assert unknown.content == disabled.content
    assert "X-Lead-Post-Id" not in disabled
    assert PostLog.objects.count() == 0


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("application/json", json.dumps(NAMES)),
        ("text/plain", "firstName=John&lastName=Doe"),
        (
            "multipart/form-data; boundary=xyz",
            '--xyz\r\nContent-Disposition: form-data; name="firstName"\r\n\r\nJohn\r\n--xyz--\r\n',
        ),
        ("", "firstName=John&lastName=Doe"),
    ],
)
def test_other_content_types_get_415_and_are_logged(client, vendor_url, content_type, data):
    response = client.generic("POST", f"/leadpost/{vendor_url[1]}", data, content_type=content_type)
    body = _body(response)
    assert response.status_code == 415
    assert body["errors"][0]["code"] == "unsupported_media_type"
    log = PostLog.objects.get(pk=int(response["X-Lead-Post-Id"]))
    assert (log.status_code, log.result) == (415, "unsupported_media_type")
    assert Record.objects.count() == 0


def test_unknown_charset_is_415(client, vendor_url):
    response = client.generic(
        "POST",
        f"/leadpost/{vendor_url[1]}",
        b"firstName=A&lastName=B",
        content_type=f"{FORM}; charset=klingon-8",
    )
    assert response.status_code == 415
    assert _body(response)["errors"][0]["code"] == "unsupported_charset"


def test_a_charset_that_cannot_carry_a_form_is_415(client, vendor_url):
    response = client.generic(
        "POST",
        f"/leadpost/{vendor_url[1]}",
        "firstName=A&lastName=B".encode("utf-16"),
        content_type=f"{FORM}; charset=utf-16",
    )
    assert response.status_code == 415
    assert _body(response)["errors"][0]["code"] == "unsupported_charset"


def test_latin1_charset_is_honoured(client, vendor_url):
    response = client.post(
        f"/leadpost/{vendor_url[1]}",
        b"firstName=Jos%E9&lastName=Pe%F1a",
        content_type=f"{FORM}; charset=ISO-8859-1",
    )
    record = Record.objects.get(pk=_body(response)["recordId"])
    assert (record.first_name, record.last_name) == ("José", "Peña")


@override_settings(LEADPOST_MAX_BODY_BYTES=2048)
def test_body_over_the_limit_is_413_and_logged(post):
    response = post({**NAMES, "title": "x" * 5000})
    body = _body(response)
    assert response.status_code == 413
    assert body["errors"][0]["code"] == "too_large"
    assert PostLog.objects.get(pk=int(response["X-Lead-Post-Id"])).status_code == 413
    assert Record.objects.count() == 0


def test_413_is_decided_on_the_declared_length_without_reading(client, vendor_url):
    # Content-Length far above the limit and a body that is not there: answered at once.
    response = client.generic(
        "POST",
        f"/leadpost/{vendor_url[1]}",
        b"firstName=A",
        content_type=FORM,
        CONTENT_LENGTH=str(65 * 1024 * 1024),
    )
    assert response.status_code == 413


def test_invalid_utf8_is_replaced_and_warned(client, vendor_url):
    response = client.post(
        f"/leadpost/{vendor_url[1]}", b"firstName=J%FF%FEohn&lastName=Doe", content_type=FORM
    )
    body = _body(response)
    assert response.status_code == 200
    assert Record.objects.get(pk=body["recordId"]).first_name == "J\ufffd\ufffdohn"
    assert any(w["code"] == "invalid_encoding" for w in body["warnings"])


def test_invalid_percent_encoding_is_kept_literally_and_warned(client, vendor_url):
    response = client.post(
        f"/leadpost/{vendor_url[1]}", b"firstName=100%zz&lastName=Doe%", content_type=FORM
    )
    body = _body(response)
    assert response.status_code == 200
    record = Record.objects.get(pk=body["recordId"])
    assert (record.first_name, record.last_name) == ("100%zz", "Doe%")
    assert any(w["code"] == "invalid_percent_encoding" for w in body["warnings"])


def test_ten_thousand_parameters(post):
    data = [("firstName", "John"), ("lastName", "Doe")] + [(f"p{i}", "v") for i in range(10_000)]
    response = post(data)
    body = _body(response)
    assert response.status_code == 200
    unknown = [w for w in body["warnings"] if w["code"] == "unknown_parameter"]
    # Each of the first names is listed, then one summary: the answer stays readable.
    assert 1 < len(unknown) <= 25
    assert "9980" in unknown[-1]["message"].replace(",", "")


def test_a_one_megabyte_value(post):
    response = post({**NAMES, "title": "t" * 1_000_000})
    assert response.status_code == 200
    assert len(Record.objects.get().title) == 1_000_000


def test_duplicated_keys_last_wins_with_warning(post):
    response = post([("firstName", "Jon"), ("firstName", "John"), ("lastName", "Doe")])
    body = _body(response)
    assert Record.objects.get(pk=body["recordId"]).first_name == "John"
    assert [w["field"] for w in body["warnings"] if w["code"] == "duplicate_parameter"] == [
        "firstName"
    ]


def test_query_string_parameters_are_ignored_with_warning(client, vendor_url):
    response = client.post(
        f"/leadpost/{vendor_url[1]}?firstName=John&lastName=Doe", "", content_type=FORM
    )
    body = _body(response)
    assert response.status_code == 400
    assert body["result"] == "rejected"
    assert any(w["code"] == "query_string_ignored" for w in body["warnings"])


def test_query_string_does_not_override_body(client, vendor_url):
    response = client.post(
        f"/leadpost/{vendor_url[1]}?firstName=Evil",
        "firstName=John&lastName=Doe",
        content_type=FORM,
    )
    assert Record.objects.get(pk=_body(response)["recordId"]).first_name == "John"


@override_settings(LEADPOST_RATE_LIMIT_PER_MINUTE=2)
def test_rate_limit_answers_429_with_retry_after(post):
    assert post(NAMES).status_code == 200
    assert post(NAMES).status_code == 200
    response = post(NAMES)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert _body(response)["errors"][0]["code"] == "rate_limited"
    assert PostLog.objects.get(pk=int(response["X-Lead-Post-Id"])).status_code == 429
    assert Record.objects.count() == 2


def test_per_url_rate_limit_overrides_the_setting(post, vendor_url):
    url = vendor_url[0]
    url.rate_limit_per_minute = 1
    url.save()
    assert post(NAMES).status_code == 200
    assert post(NAMES).status_code == 429


@contextmanager
def _write_lock_held_elsewhere():
    """Another connection holds the lock a post needs, and ours gives up waiting after 50 ms."""
    import sqlite3

    ours = connection.cursor()
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        other = sqlite3.connect(settings_dict["NAME"], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        ours.execute("PRAGMA busy_timeout = 50")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
            ours.execute("PRAGMA busy_timeout = 20000")
    else:
        import psycopg

        other = psycopg.connect(
            dbname=settings_dict["NAME"],
            user=settings_dict["USER"],
            password=settings_dict["PASSWORD"],
            host=settings_dict["HOST"],
            port=settings_dict["PORT"] or None,
        )
        other.execute("LOCK TABLE intake_postlog IN ACCESS EXCLUSIVE MODE")
        ours.execute("SET lock_timeout = '50ms'")
        try:
            yield
        finally:
            other.rollback()
            other.close()
            ours.execute("RESET lock_timeout")


@pytest.mark.django_db(transaction=True)
def test_database_locked_is_503_with_retry_after(post):
    with _write_lock_held_elsewhere():
        response = post(NAMES)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert _body(response)["errors"][0]["code"] == "unavailable"
    # Once the lock is released the same post goes through: the vendor's retry is not lost.
    assert post(NAMES).status_code == 200
    assert Record.objects.count() == 1


def test_csrf_does_not_apply_to_vendors(vendor_url):
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"/leadpost/{vendor_url[1]}", urlencode(NAMES), content_type=FORM)
    assert response.status_code == 200
