"""The returns report per vendor and month, on its page and as CSV parsed back (SPEC §14)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from django.test import Client

from leadpost.accounts.models import Account, Permission, User
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.choices import RecordType
from leadpost.records.models import Record
from leadpost.returns.actions import return_record
from leadpost.returns.report import evidence
from leadpost.returns.tests.conftest import LeadFn, text_of

Maker = Callable[..., User]
CHICAGO = "America/Chicago"


def at(account: Account, y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=account.tz)


def created(record: Record, moment: dt.datetime) -> Record:
    """The record as if it had come at `moment`."""
    Record.objects.filter(pk=record.pk).update(created_at=moment)
    record.refresh_from_db()
    return record


def returned(record: Record, by: User, reason: str = "fake", note: str = "") -> None:
    return_record(record, reason, note, by=by, now=record.created_at + dt.timedelta(hours=1))


@pytest.fixture
def acme(agency: Account, client: Client) -> Callable[..., Record]:
    """A second vendor of the agency, Acme, and a way to post to it."""
    token = LeadPostUrl.issue(agency, "Acme Leads")[1]

    def _post(n: int) -> Record:
        body = urlencode({"firstName": "Acme", "lastName": f"Lead{n}", "externalID": f"acme-{n}"})
        reply = client.post(
            f"/leadpost/{token}", data=body, content_type="application/x-www-form-urlencoded"
        )
        assert reply.status_code == 200
        return Record.objects.get(external_id=f"acme-{n}")

    return _post


@pytest.fixture
def november(
    agency: Account, lead: LeadFn, manager: User, acme: Callable[..., Record]
) -> dict[str, Record]:
    """Datalot: 4 leads in November 2026 (Chicago), one of them returned with a post warning;
    one at 23:30 on Nov 30 (December in UTC) counted, one just after (December) not, and an
    October lead returned in November not either. Acme: 2 November leads, none returned."""
    bad = created(lead(email="not-an-email"), at(agency, 2026, 11, 3))
    leads = {
        "bad": bad,
        "plain": created(lead(), at(agency, 2026, 11, 10)),
        "third": created(lead(), at(agency, 2026, 11, 20)),
        "late": created(lead(), at(agency, 2026, 11, 30, 23, 30)),
        "december": created(lead(), at(agency, 2026, 12, 1, 0, 30)),
        "october": created(lead(), at(agency, 2026, 10, 31, 23, 59)),
    }
    returned(bad, manager, "bad_phone", '=HYPERLINK("http://evil.example","click")')
    returned(leads["late"], manager, "duplicate", "same person as 17")
    returned(leads["october"], manager)
    returned(leads["december"], manager)
    for n in range(2):
        created(acme(n), at(agency, 2026, 11, 15))
    return leads


def vendor_box(text: str, label: str) -> str:
    start = text.index(f">{label}</a></h2>")
    end = text.find('class="module vendor-returns"', start)
    return text[start : end if end > 0 else None]


def test_the_month_s_page_per_vendor(
    client: Client, manager: User, november: dict[str, Record]
) -> None:
    client.force_login(manager)
    reply = client.get("/staff/returns/?month=2026-11")
    assert reply.status_code == 200
    text = text_of(reply)
    assert "Leads created in <strong>November 2026</strong> (America/Chicago)" in text
    assert "the month's returned leads over the month's leads of that URL" in text
    datalot = vendor_box(text, "Datalot")
    assert '<span class="leads">4</span> leads, <span class="returns">2</span> returned' in datalot
    assert '<span class="share">50.0%</span>' in datalot
    bad, late = november["bad"], november["late"]
    assert f'data-record-id="{bad.pk}"' in datalot and f'data-record-id="{late.pk}"' in datalot
    assert f'data-record-id="{november["october"].pk}"' not in text
    assert f'data-record-id="{november["december"].pk}"' not in text
    assert "Bad phone" in datalot and "same person as 17" in datalot and "Ada Admin" in datalot
    assert "warning email:" in datalot  # the post's warning, as evidence
    acme = vendor_box(text, "Acme Leads")
    assert '<span class="leads">2</span> leads, <span class="returns">0</span> returned' in acme
    assert '<span class="share">0.0%</span>' in acme

    december = text_of(client.get("/staff/returns/?month=2026-12"))
    assert '<span class="leads">1</span> leads, <span class="returns">1</span> returned' in (
        vendor_box(december, "Datalot")
    )
    empty = text_of(client.get("/staff/returns/?month=2025-02"))
    assert "No leads came through a Lead Post URL in February 2025." in empty


def _csv(reply: object) -> list[dict[str, str]]:
    raw: bytes = reply.content  # type: ignore[attr-defined]
    assert raw.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def test_the_csv_parsed_back_has_the_vendors_then_their_returns(
    client: Client, manager: User, november: dict[str, Record], vendor_url: tuple[LeadPostUrl, str]
) -> None:
    client.force_login(manager)
    reply = client.get("/staff/returns/returns.csv?month=2026-11")
    assert reply.status_code == 200
    assert reply["Content-Type"] == "text/csv; charset=utf-8"
    assert reply["Content-Disposition"] == 'attachment; filename="returns-2026-11.csv"'
    rows = _csv(reply)
    vendors = [
        (r["vendor"], r["leads"], r["returns"], r["return_share"])
        for r in rows
        if r["row"] == "vendor"
    ]
    assert vendors == [("Acme Leads", "2", "0", "0.0000"), ("Datalot", "4", "2", "0.5000")]
    returns = [r for r in rows if r["row"] == "return"]
    bad, late = november["bad"], november["late"]
    assert [int(r["record_id"]) for r in returns] == [bad.pk, late.pk]
    first = returns[0]
    assert (first["month"], first["vendor"], first["reason"]) == ("2026-11", "Datalot", "Bad phone")
    assert first["note"] == '\'=HYPERLINK("http://evil.example","click")'  # not a formula
    assert first["created_at"] == "2026-11-03T12:00:00-06:00"
    assert first["returned_by"] == "Ada Admin"
    assert first["evidence"].startswith("consent: no evidence sent; warning email:")
    assert returns[1]["created_at"] == "2026-11-30T23:30:00-06:00"

    url = vendor_url[0]
    one = client.get(f"/staff/returns/returns.csv?month=2026-11&url={url.pk}")
    assert (
        one["Content-Disposition"] == f'attachment; filename="returns-2026-11-vendor-{url.pk}.csv"'
    )
    assert {r["vendor"] for r in _csv(one)} == {"Datalot"}
    page = text_of(client.get(f"/staff/returns/?month=2026-11&url={url.pk}"))
    assert "Acme Leads" not in page and "Datalot" in page


def test_no_ssn_and_no_url_token_on_the_page_or_the_csv(
    client: Client,
    lead: LeadFn,
    manager: User,
    agency: Account,
    vendor_url: tuple[LeadPostUrl, str],
) -> None:
    token = vendor_url[1]
    record = created(lead(ssn="123-45-6789", lastName="Lee 987654321"), at(agency, 2026, 11, 5))
    note = f"SSN 123-45-6789, see {LeadPostUrl.full_url(token)} and {token}"
    returned(record, manager, "other", note)
    client.force_login(manager)
    page = client.get("/staff/returns/?month=2026-11").content
    sheet = client.get("/staff/returns/returns.csv?month=2026-11").content
    assert b"***-**-6789" in page and b"***-**-6789" in sheet
    for body in (page, sheet):
        for secret in ("123-45-6789", "123456789", "987654321", token, token[6:]):
            assert secret.encode() not in body


@pytest.mark.parametrize(
    ("month", "said"),
    [
        ("2026-13", "There is no month 13: months are 01 to 12."),
        ("2026-00", "There is no month 00"),
        ("nov", "Give the month as YYYY-MM, e.g. 2026-11."),
        ("2026-1", "Give the month as YYYY-MM"),
        ("2026-11\x00", "Give the month as YYYY-MM"),
        ("２０２６-１１", "Give the month as YYYY-MM"),
        ("1999-12", "Choose a month from 2000 to"),
        ("99999-01", "Give the month as YYYY-MM"),
        ("x" * 100_000, "Give the month as YYYY-MM"),
    ],
)
def test_a_bad_month_is_a_400_in_words(
    client: Client, manager: User, month: str, said: str
) -> None:
    client.force_login(manager)
    for path in ("/staff/returns/", "/staff/returns/returns.csv"):
        reply = client.get(path, {"month": month})
        assert reply.status_code == 400
        assert said in text_of(reply)


def test_the_report_needs_manage_data_and_an_account(
    client: Client, agency: Account, other_agency: Account, staff_member: Maker, manager: User
) -> None:
    viewer = staff_member(agency, "val", Permission.VIEW_POST_LOG, Permission.MANAGE_URLS)
    agent = staff_member(agency, "al")
    for user in (viewer, agent):
        client.force_login(user)
        for path in ("/staff/returns/", "/staff/returns/returns.csv"):
            reply = client.get(path)
            assert reply.status_code == 403
            assert "Manage Data &amp; Custom Fields" in text_of(reply)
        assert 'id="returns"' not in text_of(client.get("/staff/"))
    client.force_login(User.objects.create_superuser("root", password="x-9-operator-pw"))
    assert client.get("/staff/returns/").status_code == 403

    theirs, _ = LeadPostUrl.issue(other_agency, "Theirs")
    client.force_login(manager)
    assert 'id="returns"' in text_of(client.get("/staff/"))
    for bad in (str(theirs.pk), "abc", "1" * 40, "-3"):
        assert client.get("/staff/returns/", {"url": bad}).status_code == 404
        assert client.get("/staff/returns/returns.csv", {"url": bad}).status_code == 404
    assert client.post("/staff/returns/").status_code == 405


def test_sales_records_count_only_for_who_sees_sales_enablement(
    client: Client, lead: LeadFn, agency: Account, manager: User, staff_member: Maker
) -> None:
    individual = created(lead(), at(agency, 2026, 11, 2))
    agency.record_mode = RecordType.SALES_RECORD
    agency.save()
    sales = created(lead(), at(agency, 2026, 11, 3))
    assert sales.record_type == RecordType.SALES_RECORD
    returned(sales, manager)
    client.force_login(staff_member(agency, "bea", Permission.MANAGE_DATA))
    text = text_of(client.get("/staff/returns/?month=2026-11"))
    assert "Sales Records are not counted" in text
    assert '<span class="leads">1</span> leads, <span class="returns">0</span>' in text
    assert f'data-record-id="{sales.pk}"' not in text
    client.force_login(manager)
    text = text_of(client.get("/staff/returns/?month=2026-11"))
    assert '<span class="leads">2</span> leads, <span class="returns">1</span>' in text
    assert individual.pk != sales.pk


def test_evidence_is_the_consent_and_the_post_s_warnings_redacted(lead: LeadFn) -> None:
    record = lead(email="not-an-email")
    post = record.posts.get()
    lines = evidence(record, post)
    assert lines[0] == "consent: no evidence sent"
    assert len(lines) == 2 and lines[1].startswith("warning email: ")
    assert evidence(record, None) == ["consent: no evidence sent"]


def test_evidence_names_the_consent_sent_and_the_claim(lead: LeadFn) -> None:
    record = lead(
        xxTrustedFormCertUrl="https://cert.trustedform.com/0123456789abcdef0123456789abcdef01234567",
        ipAddress="203.0.113.7",
    )
    (line,) = evidence(Record.objects.get(pk=record.pk), None)
    # No TrustedForm API key on the account: the certificate is kept, not claimed.
    assert line == (
        "consent: TrustedForm certificate, IP address; TrustedForm claim not claimed: "
        "the account has no TrustedForm API key"
    )
    record.consent.claim_state = "claimed"
    record.consent.claim_expires_at = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    record.consent.save()
    (line,) = evidence(Record.objects.get(pk=record.pk), None)
    assert line.endswith("; TrustedForm claim claimed, expires 2027-03-01")


def test_evidence_names_the_possible_duplicate_first(
    lead: LeadFn, agency: Account, client: Client
) -> None:
    first = lead(cellPhone="319-555-0177")
    token = LeadPostUrl.issue(agency, "Acme Leads")[1]
    body = urlencode({"firstName": "Pat", "lastName": "Again", "homePhone": "(319) 555-0177"})
    reply = client.post(
        f"/leadpost/{token}", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert reply.status_code == 200 and "uplicate" not in reply.content.decode()
    second = Record.objects.get(pk=reply.json()["recordId"])
    lines = evidence(second, None)
    day = first.created_at.astimezone(agency.tz).date().isoformat()
    assert (
        lines[0]
        == f"possible duplicate of record {first.pk}, another vendor's of {day}: same phone"
    )
    # Not to a user who cannot see Sales Enablement, when the earlier record is a Sales Record.
    Record.objects.filter(pk=first.pk).update(record_type=RecordType.SALES_RECORD)
    hidden = evidence(Record.objects.get(pk=second.pk), None, sales_visible=False)
    assert hidden == ["consent: no evidence sent"]
    shown = evidence(Record.objects.get(pk=second.pk), None, sales_visible=True)
    assert shown[0].startswith(f"possible duplicate of record {first.pk}, another vendor's")
    assert lines[1] == "consent: no evidence sent"
    assert evidence(Record.objects.get(pk=first.pk), None) == ["consent: no evidence sent"]
