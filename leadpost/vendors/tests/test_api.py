"""The vendor figures in the read API (SPEC §13, §11): what an agency's other systems read, as JSON
and CSV, per account token, and what they never read (another account, an SSN, a URL's token)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from leadpost.accounts.models import Account, ApiToken, User
from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.lib.choices import RecordType
from leadpost.vendors.present import CSV_COLUMNS
from leadpost.vendors.rollup import roll_up

FORM = "application/x-www-form-urlencoded"


def lead(n: int, **extra: str) -> dict[str, str]:
    return {"firstName": "Pat", "lastName": f"Lee{n}", "externalID": f"ext-{n}", **extra}


def send(client: Client, token: str, fields: dict[str, str], suffix: str = "") -> Any:
    return client.post(f"/leadpost/{token}{suffix}", urlencode(fields), content_type=FORM)


def read(client: Client, path: str, token: str, **extra: Any) -> Any:
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}", **extra)


@pytest.fixture
def nextgen(agency: Account) -> tuple[LeadPostUrl, str]:
    """A second vendor of the agency, paid $12.50 a lead."""
    url, token = LeadPostUrl.issue(agency, "NextGen Leads")
    url.price_per_lead = Decimal("12.50")
    url.save()
    return url, token


@pytest.fixture
def posted(
    client: Client,
    vendor_url: tuple[LeadPostUrl, str],
    nextgen: tuple[LeadPostUrl, str],
    alice: User,
) -> None:
    """Datalot: 3 created (one with a bad birth date, one for Alice), a duplicate, a rejected
    post, a dry run and a 415. NextGen: 2 created and a duplicate."""
    datalot = vendor_url[1]
    assert send(client, datalot, lead(1)).status_code == 200
    assert send(client, datalot, lead(2, birthDate="1980-13-45")).status_code == 200
    agent = {"servicingAgentFirstName": "Alice", "servicingAgentLastName": "Agent"}
    assert send(client, datalot, lead(3, **agent)).json()["servicingAgent"]
    assert send(client, datalot, lead(1)).json()["result"] == "duplicate"
    assert send(client, datalot, {"firstName": "No last name"}).status_code == 400
    assert send(client, datalot, lead(4), "/test").json()["result"] == "test"
    refused = client.post(f"/leadpost/{datalot}", "{}", content_type="application/json")
    assert refused.status_code == 415
    for n in (10, 11, 10):
        assert send(client, nextgen[1], lead(n)).status_code == 200


def by_label(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {vendor["label"]: vendor for vendor in body["vendors"]}


def test_the_account_s_vendors_side_by_side(
    client: Client, agency: Account, posted: None, api_token: str, alice: User
) -> None:
    response = read(client, "/api/v1/vendors?period=today", api_token)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    today = agency.local_date(timezone.now()).isoformat()
    assert body["period"] == {
        "from": today,
        "to": today,
        "name": "today",
        "timeZone": "America/Chicago",
    }
    assert body["salesRecordsIncluded"] is True
    assert [v["label"] for v in body["vendors"]] == ["Datalot", "NextGen Leads"]
    datalot, nextgen = by_label(body)["Datalot"], by_label(body)["NextGen Leads"]
    assert "days" not in datalot  # the list gives totals; a URL's own answer has the days
    assert datalot["pricePerLead"] is None and datalot["enabled"] is True
    total = datalot["total"]
    assert {k: total[k] for k in ("posts", "created", "duplicate", "rejected", "refused")} == {
        "posts": 6,
        "created": 3,
        "duplicate": 1,
        "rejected": 1,
        "refused": 1,
    }
    assert total["refusedBy"] == {"unsupported_media_type": 1}
    assert total["dryRuns"] == 1
    assert total["duplicateRate"] == round(1 / 6, 4)
    assert total["rejectionRate"] == round(1 / 6, 4)
    assert total["answerMs"]["timed"] == 7
    assert total["answerMs"]["median"] is not None and total["answerMs"]["p95"] is not None
    birth = [w for w in total["warnings"] if w["field"] == "birthDate"]
    assert birth == [
        {
            "field": "birthDate",
            "code": birth[0]["code"],
            "posts": 1,
            "share": round(1 / 6, 4),
            "example": "1980-13-45",
            "message": birth[0]["message"],
        }
    ]
    assert total["attachments"] == {"stored": 0, "failed": 0}
    assert sorted(total["leadsPerAgent"], key=lambda a: a["leads"]) == [
        {"agentId": alice.pk, "name": "Alice Agent", "leads": 1},
        {"agentId": None, "name": "(no agent)", "leads": 2},
    ]
    assert total["spend"] is None  # no price per lead: no spend
    assert nextgen["pricePerLead"] == "12.50"
    assert (nextgen["total"]["created"], nextgen["total"]["duplicate"]) == (2, 1)
    assert nextgen["total"]["spend"] == "25.00"  # a duplicate is not paid for


def test_the_figures_equal_the_post_log_s(
    client: Client, agency: Account, posted: None, api_token: str
) -> None:
    def from_api() -> dict[int, dict[str, int]]:
        body = read(client, "/api/v1/vendors?period=today", api_token).json()
        return {
            v["id"]: {
                "created": v["total"]["created"],
                "duplicate": v["total"]["duplicate"],
                "rejected": v["total"]["rejected"],
                "unsupported_media_type": v["total"]["refusedBy"].get("unsupported_media_type", 0),
                "test": v["total"]["dryRuns"],
            }
            for v in body["vendors"]
        }

    logged: dict[int, dict[str, int]] = {}
    for url_id, result in PostLog.objects.values_list("lead_post_url_id", "result"):
        logged.setdefault(url_id, dict.fromkeys(from_api()[url_id], 0))[result] += 1
    assert from_api() == logged
    roll_up(timezone.now() + dt.timedelta(days=1, minutes=11))  # today closed and rolled up
    assert from_api() == logged


def test_one_vendor_with_its_days(
    client: Client,
    agency: Account,
    posted: None,
    api_token: str,
    vendor_url: tuple[LeadPostUrl, str],
) -> None:
    url = vendor_url[0]
    response = read(client, f"/api/v1/vendors/{url.pk}?period=7", api_token)
    assert response.status_code == 200
    body = response.json()
    assert body["period"]["name"] == "7"
    (vendor,) = body["vendors"]
    assert (vendor["id"], vendor["label"]) == (url.pk, "Datalot")
    today = agency.local_date(timezone.now())
    assert [d["date"] for d in vendor["days"]] == [
        (today - dt.timedelta(days=n)).isoformat() for n in range(6, -1, -1)
    ]
    assert vendor["days"][-1] == {
        "date": today.isoformat(),
        "created": 3,
        "duplicate": 1,
        "rejected": 1,
        "refused": 1,
        "overCap": 0,
        "dryRuns": 1,
        "possibleDuplicates": 0,
    }
    assert all(
        d == {"date": d["date"], "created": 0, "duplicate": 0, "rejected": 0, "refused": 0,
              "overCap": 0, "dryRuns": 0, "possibleDuplicates": 0}
        for d in vendor["days"][:-1]
    )  # fmt: skip
    assert vendor["total"]["created"] == 3


def test_a_period_by_dates(client: Client, agency: Account, posted: None, api_token: str) -> None:
    today = agency.local_date(timezone.now())
    first = today - dt.timedelta(days=2)
    query = urlencode({"from": first.isoformat(), "to": today.isoformat()})
    body = read(client, f"/api/v1/vendors?{query}", api_token).json()
    assert body["period"]["name"] == "dates"
    assert (body["period"]["from"], body["period"]["to"]) == (first.isoformat(), today.isoformat())
    assert by_label(body)["Datalot"]["total"]["created"] == 3
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    query = urlencode({"from": first.isoformat(), "to": yesterday})
    before = read(client, f"/api/v1/vendors?{query}", api_token).json()
    assert by_label(before)["Datalot"]["total"]["posts"] == 0


def test_the_default_period_is_the_last_7_days(
    client: Client, agency: Account, api_token: str, vendor_url: tuple[LeadPostUrl, str]
) -> None:
    body = read(client, "/api/v1/vendors", api_token).json()
    assert body["period"]["name"] == "7"
    assert body["vendors"][0]["total"]["posts"] == 0
    assert body["vendors"][0]["total"]["duplicateRate"] is None  # no posts: no rate
    assert body["vendors"][0]["total"]["answerMs"] == {"median": None, "p95": None, "timed": 0}


def test_a_token_sees_sales_record_mode_posts(
    client: Client, agency: Account, vendor_url: tuple[LeadPostUrl, str], api_token: str
) -> None:
    assert send(client, vendor_url[1], lead(1)).status_code == 200
    agency.record_mode = RecordType.SALES_RECORD
    agency.save()
    assert send(client, vendor_url[1], lead(2)).json()["recordType"] == "salesRecord"
    body = read(client, f"/api/v1/vendors/{vendor_url[0].pk}?period=today", api_token).json()
    assert body["salesRecordsIncluded"] is True
    assert body["vendors"][0]["total"]["created"] == 2


def test_another_account_s_vendors_are_invisible(
    client: Client,
    agency: Account,
    other_agency: Account,
    posted: None,
    api_token: str,
    vendor_url: tuple[LeadPostUrl, str],
) -> None:
    theirs, their_url_token = LeadPostUrl.issue(other_agency, "Their Vendor")
    assert send(client, their_url_token, lead(1)).status_code == 200
    listed = read(client, "/api/v1/vendors?period=today", api_token).json()
    assert theirs.pk not in [v["id"] for v in listed["vendors"]]
    assert "Their Vendor" not in str(listed)
    response = read(client, f"/api/v1/vendors/{theirs.pk}?period=today", api_token)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "Their Vendor" not in response.content.decode()

    _, their_token = ApiToken.issue(other_agency)
    mine = read(client, f"/api/v1/vendors/{vendor_url[0].pk}", their_token)
    assert mine.status_code == 404
    theirs_listed = read(client, "/api/v1/vendors?period=today", their_token).json()
    assert [(v["label"], v["total"]["created"]) for v in theirs_listed["vendors"]] == [
        ("Their Vendor", 1)
    ]


@pytest.mark.parametrize(
    "url_id",
    [
        "99999999999999999999999",
        "9223372036854775807",
        "9223372036854775808",
        "0",
        "-1",
        "+1",
        "1_0",
        "١",
        "abc",
        "1%00",
        "%C3%28",
        "1.0",
        "x" * 5000,
    ],
)
def test_a_url_id_that_is_no_url_of_the_account_is_a_404(
    client: Client, api_token: str, vendor_url: tuple[LeadPostUrl, str], url_id: str
) -> None:
    response = read(client, f"/api/v1/vendors/{url_id}", api_token)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["message"] == "No such Lead Post URL in this account."


def test_a_url_token_pasted_as_the_id_is_not_repeated(
    client: Client, api_token: str, vendor_url: tuple[LeadPostUrl, str]
) -> None:
    token = vendor_url[1]
    response = read(client, f"/api/v1/vendors/{token}", api_token)
    assert response.status_code == 404
    assert token not in response.content.decode()
    assert token[:12] not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"period": "8"}, "period must be one of"),
        ({"period": "x" * 1_000_000}, "period must be one of"),
        ({"period": "7\x00"}, "period must be one of"),
        ({"from": "2026-13-01"}, "from must be a date"),
        ({"from": "2026-12-01", "to": "2026-11-01"}, "to must not be before from"),
        ({"to": "2026-11-01"}, "from is needed"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "at most"),
        ({"from": "123-45-6789"}, "from must be a date"),
        ({"from": "\x00" * 10}, "from must be a date"),
        ({"from": "２０２６-１２-０１"}, "from must be a date"),
    ],
)
def test_a_bad_period_is_a_400_in_words(
    client: Client, api_token: str, query: dict[str, str], message: str
) -> None:
    for path in ("/api/v1/vendors", "/api/v1/vendors/1"):
        response = read(client, f"{path}?{urlencode(query)}", api_token)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "bad_period"
        assert message in error["message"]
        assert "6789" not in error["message"] and "\x00" not in error["message"]
        assert len(response.content) < 500  # the value sent is not repeated


def test_invalid_utf8_in_the_query_is_no_500(client: Client, api_token: str) -> None:
    response = read(client, "/api/v1/vendors?period=%C3%28&from=%FF%FE", api_token)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_period"


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic dXNlcjpwYXNz", "Bearer "])
def test_without_a_valid_token_it_is_a_401(
    client: Client, vendor_url: tuple[LeadPostUrl, str], header: str | None
) -> None:
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    for path in ("/api/v1/vendors", f"/api/v1/vendors/{vendor_url[0].pk}"):
        response = client.get(path, **extra)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["error"]["code"] == "unauthorized"


def test_a_revoked_token_is_a_401(client: Client, agency: Account) -> None:
    row, token = ApiToken.issue(agency)
    assert read(client, "/api/v1/vendors", token).status_code == 200
    row.revoked_at = row.created_at
    row.save()
    assert read(client, "/api/v1/vendors", token).status_code == 401


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_figures_are_read_only(
    client: Client, api_token: str, vendor_url: tuple[LeadPostUrl, str], method: str
) -> None:
    for path in ("/api/v1/vendors", f"/api/v1/vendors/{vendor_url[0].pk}"):
        response = getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {api_token}")
        assert response.status_code == 405
        assert response["Allow"] == "GET"
        assert response.json()["error"]["code"] == "method_not_allowed"


def rows_of(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


@pytest.mark.parametrize(
    "how", [{"query": "&format=csv"}, {"query": "", "HTTP_ACCEPT": "text/csv"}]
)
def test_the_figures_as_csv(
    client: Client,
    agency: Account,
    posted: None,
    api_token: str,
    nextgen: tuple[LeadPostUrl, str],
    how: dict[str, str],
) -> None:
    extra = {k: v for k, v in how.items() if k != "query"}
    response = read(client, f"/api/v1/vendors?period=7{how['query']}", api_token, **extra)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = agency.local_date(timezone.now())
    first = today - dt.timedelta(days=6)
    assert response["Content-Disposition"] == (
        f'attachment; filename="vendors-{first.isoformat()}-{today.isoformat()}.csv"'
    )
    text = response.content.decode("utf-8")
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    rows = rows_of(response)
    assert len(rows) == 2 * 7 + 2  # a row per URL and day, then a total per URL
    totals = {r["vendor"]: r for r in rows if r["date"] == "total"}
    assert (totals["Datalot"]["created"], totals["Datalot"]["duplicate"]) == ("3", "1")
    assert (totals["Datalot"]["rejected"], totals["Datalot"]["refused"]) == ("1", "1")
    assert totals["Datalot"]["dry_runs"] == "1"
    assert totals["Datalot"]["spend"] == ""
    assert totals["NextGen Leads"]["spend"] == "25.00"
    todays = [r for r in rows if r["date"] == today.isoformat()]
    assert {r["vendor"]: r["posts"] for r in todays} == {"Datalot": "6", "NextGen Leads": "3"}

    one = read(client, f"/api/v1/vendors/{nextgen[0].pk}?period=today&format=csv", api_token)
    assert one["Content-Disposition"] == (
        f'attachment; filename="vendor-{nextgen[0].pk}-{today.isoformat()}-{today.isoformat()}.csv"'
    )
    assert [(r["date"], r["created"]) for r in rows_of(one)] == [
        (today.isoformat(), "2"),
        ("total", "2"),
    ]


def test_json_is_the_default_and_format_wins_over_accept(
    client: Client, api_token: str, vendor_url: tuple[LeadPostUrl, str]
) -> None:
    accept_both = read(
        client, "/api/v1/vendors", api_token, HTTP_ACCEPT="text/csv, application/json"
    )
    assert accept_both["Content-Type"] == "application/json"
    assert read(client, "/api/v1/vendors", api_token, HTTP_ACCEPT="*/*")["Content-Type"] == (
        "application/json"
    )
    forced = read(client, "/api/v1/vendors?format=json", api_token, HTTP_ACCEPT="text/csv")
    assert forced["Content-Type"] == "application/json"
    csv_anyway = read(client, "/api/v1/vendors?format=CSV", api_token)
    assert csv_anyway["Content-Type"].startswith("text/csv")


@pytest.mark.parametrize("value", ["xml", "csv\x00", "x" * 10_000, "123-45-6789"])
def test_an_unknown_format_is_a_400(client: Client, api_token: str, value: str) -> None:
    response = read(client, f"/api/v1/vendors?{urlencode({'format': value})}", api_token)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"
    assert "6789" not in response.content.decode()


def test_a_label_a_spreadsheet_would_run_is_shown_as_text(
    client: Client, agency: Account, api_token: str
) -> None:
    url, token = LeadPostUrl.issue(agency, '=HYPERLINK("http://evil.example","x")')
    assert send(client, token, lead(1)).status_code == 200
    response = read(client, f"/api/v1/vendors/{url.pk}?period=today&format=csv", api_token)
    labels = {r["vendor"] for r in rows_of(response)}
    assert labels == {'\'=HYPERLINK("http://evil.example","x")'}
    # The JSON gives the label as it is: a program reads it, not a spreadsheet.
    body = read(client, f"/api/v1/vendors/{url.pk}?period=today", api_token).json()
    assert body["vendors"][0]["label"] == '=HYPERLINK("http://evil.example","x")'


def test_no_ssn_and_no_url_token_reaches_the_json_or_the_csv(
    client: Client, agency: Account, vendor_url: tuple[LeadPostUrl, str], api_token: str
) -> None:
    url, token = vendor_url
    hostile = lead(
        1,
        ssn="12345",
        birthDate=f"123-45-6789 {token}",
        homePhone="123456789",
        # Cut short for its example just inside the token: the part kept is not shown either.
        email="a" * 990 + "." + token,
        unknownThing=f"{token} 987-65-4321",
        **{f"x{token}": "1"},
        note="\x00\x01 bad",
    )
    assert send(client, token, hostile).status_code == 200
    rejected = send(client, token, {"firstName": "123-45-6789", "middleInitial": token})
    assert rejected.status_code == 400
    for query in ("", "&format=csv"):
        for path in ("/api/v1/vendors", f"/api/v1/vendors/{url.pk}"):
            response = read(client, f"{path}?period=today{query}", api_token)
            assert response.status_code == 200
            text = response.content.decode("utf-8")
            assert "birthDate" in text or query  # the warnings are there (JSON)...
            for secret in ("123-45-6789", "987-65-4321", "123456789", token, token[:7]):
                assert secret not in text, (secret, path, query)
            assert "\x00" not in text and "\\u0000" not in text


def test_a_url_with_a_price_shows_the_spend_per_day(
    client: Client, agency: Account, nextgen: tuple[LeadPostUrl, str], api_token: str
) -> None:
    for n in range(3):
        assert send(client, nextgen[1], lead(n)).status_code == 200
    body = read(client, f"/api/v1/vendors/{nextgen[0].pk}?period=today", api_token).json()
    assert body["vendors"][0]["total"]["spend"] == "37.50"
    roll_up(timezone.now() + dt.timedelta(days=1, minutes=11))
    again = read(client, f"/api/v1/vendors/{nextgen[0].pk}?period=today", api_token).json()
    assert again["vendors"][0]["total"]["spend"] == "37.50"


README = Path(__file__).resolve().parents[3] / "README.md"


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


def test_the_readme_describes_every_field_and_column(
    client: Client, posted: None, api_token: str, vendor_url: tuple[LeadPostUrl, str]
) -> None:
    """The README's section is the description of these answers (until the OpenAPI document)."""
    text = README.read_text()
    section = text.split("### Vendor figures", 1)[1].split("\n## ", 1)[0]
    answers = [
        read(client, "/api/v1/vendors?period=today", api_token).json(),
        read(client, f"/api/v1/vendors/{vendor_url[0].pk}?period=today", api_token).json(),
    ]
    fields = set().union(*(keys_of(a) for a in answers))
    assert {"days", "refusedBy", "agentId", "example"} <= fields
    missing = sorted(f for f in fields if f"`{f}`" not in section)
    assert not missing, f"add to README.md's Vendor figures: {missing}"
    columns = [c for c in CSV_COLUMNS if f"`{c}`" not in section]
    assert not columns, f"add to README.md's Vendor figures: {columns}"
