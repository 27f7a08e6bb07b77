"""Cross-vendor duplicates (SPEC §14): a lead whose phone, e-mail or SSN another vendor of the
same account sent within the account's window is stored and flagged, on its page, in the read
API and in the vendor figures; the vendor's answer says nothing of it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from leadpost.accounts.models import Account, Permission
from leadpost.intake.actions import Client as PostClient
from leadpost.intake.actions import receive_lead
from leadpost.intake.lead import DecodedForm
from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.lib.choices import RecordType
from leadpost.records.models import MatchKey, Record
from leadpost.vendors.rollup import roll_up

FORM = "application/x-www-form-urlencoded"
SSN = "212-55-1234"


@pytest.fixture
def nextgen(agency: Account) -> tuple[LeadPostUrl, str]:
    """A second vendor's Lead Post URL of the same agency."""
    return LeadPostUrl.issue(agency, "NextGen Leads")


def send(client: Client, token: str, **fields: str) -> dict[str, Any]:
    data = {"firstName": "Pat", "lastName": "Lee", **fields}
    response = client.post(f"/leadpost/{token}", data=urlencode(data), content_type=FORM)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def api(client: Client, token: str, record_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/records/{record_id}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def flag(record_id: int) -> tuple[int | None, str]:
    record = Record.objects.get(pk=record_id)
    return record.duplicate_of_id, record.duplicate_matched


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("homePhone", "businessPhone"),
        ("cellPhone", "homePhone"),
        ("businessPhone", "cellPhone"),
        ("homePhone", "homePhone"),
    ],
)
def test_a_phone_in_any_field_matches_any_field_of_another_vendors_lead(
    client: Client,
    vendor_url: tuple[LeadPostUrl, str],
    nextgen: tuple[LeadPostUrl, str],
    earlier: str,
    later: str,
) -> None:
    first = send(client, vendor_url[1], **{earlier: "319-555-0100"})
    # Another spelling of the same number: both are stored as (319) 555-0100.
    second = send(client, nextgen[1], **{later: "+1 (319) 555 0100"})
    assert flag(first["recordId"]) == (None, "")
    assert flag(second["recordId"]) == (first["recordId"], "phone")


def test_the_email_matches_whatever_its_case(
    client: Client, vendor_url: tuple[LeadPostUrl, str], nextgen: tuple[LeadPostUrl, str]
) -> None:
    first = send(client, vendor_url[1], email="Pat.Lee@Example.com")
    second = send(client, nextgen[1], email="pat.lee@EXAMPLE.COM")
    other = send(client, nextgen[1], email="pat.lee2@example.com")
    assert flag(second["recordId"]) == (first["recordId"], "email")
    assert flag(other["recordId"]) == (None, "")


def test_the_ssn_matches_through_its_blind_index(
    client: Client, vendor_url: tuple[LeadPostUrl, str], nextgen: tuple[LeadPostUrl, str]
) -> None:
    first = send(client, vendor_url[1], ssn=SSN)
    second = send(client, nextgen[1], ssn=SSN.replace("-", ""))
    other = send(client, nextgen[1], ssn="212-55-1235")
    assert flag(second["recordId"]) == (first["recordId"], "ssn")
    assert flag(other["recordId"]) == (None, "")
    # Nothing of the SSN is kept with the flag: the record holds kinds, never values.
    assert "1234" not in Record.objects.get(pk=second["recordId"]).duplicate_matched


def test_every_key_that_matched_is_named(
    client: Client, vendor_url: tuple[LeadPostUrl, str], nextgen: tuple[LeadPostUrl, str]
) -> None:
    keys = {"cellPhone": "3195550100", "email": "pat@example.com", "ssn": SSN}
    first = send(client, vendor_url[1], **keys)
    second = send(client, nextgen[1], **keys)
    assert flag(second["recordId"]) == (first["recordId"], "phone,email,ssn")


def test_no_match_from_the_same_url_another_account_or_a_staff_made_record(
    client: Client,
    agency: Account,
    other_agency: Account,
    vendor_url: tuple[LeadPostUrl, str],
    nextgen: tuple[LeadPostUrl, str],
) -> None:
    keys = {"homePhone": "319-555-0100", "email": "pat@example.com", "ssn": SSN}
    elsewhere = LeadPostUrl.issue(other_agency, "NextGen Leads")[1]
    theirs = send(client, elsewhere, **keys)
    Record.objects.create(
        account=agency,
        record_type=RecordType.INDIVIDUAL,
        first_name="Pat",
        last_name="Lee",
        home_phone="(319) 555-0100",
        email="pat@example.com",
    )
    first = send(client, vendor_url[1], **keys)  # another account's and a staff-made record
    again = send(client, vendor_url[1], **keys)  # the same vendor again
    assert flag(first["recordId"]) == (None, "")
    assert flag(again["recordId"]) == (None, "")
    assert flag(theirs["recordId"]) == (None, "")
    # Through the agency's other vendor it is a duplicate: of the agency's own first record.
    later = send(client, nextgen[1], **keys)
    assert flag(later["recordId"]) == (first["recordId"], "phone,email,ssn")


def _post_at(url: LeadPostUrl, when: dt.datetime, **fields: str) -> Record:
    outcome = receive_lead(
        url,
        DecodedForm({"firstName": "Pat", "lastName": "Lee", **fields}),
        received_at=when,
        client=PostClient("127.0.0.1", "test"),
    )
    assert outcome.record is not None
    return outcome.record


@pytest.mark.parametrize(
    ("age", "flagged"),
    [
        (dt.timedelta(days=29, hours=12), True),
        (dt.timedelta(days=30), True),  # the window's first instant
        (dt.timedelta(days=30, microseconds=1), False),
        (dt.timedelta(days=30, hours=12), False),
    ],
)
def test_the_window_includes_its_first_instant_and_nothing_before(
    agency: Account,
    vendor_url: tuple[LeadPostUrl, str],
    nextgen: tuple[LeadPostUrl, str],
    age: dt.timedelta,
    flagged: bool,
) -> None:
    now = timezone.now()
    earlier = _post_at(vendor_url[0], now - age, cellPhone="3195550100")
    later = _post_at(nextgen[0], now, cellPhone="3195550100")
    assert flag(later.pk) == ((earlier.pk, "phone") if flagged else (None, ""))


def test_a_resend_in_the_windows_first_day_is_missed_never_flagged_wrongly(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], nextgen: tuple[LeadPostUrl, str]
) -> None:
    """The one inexactness (records/duplicates.py): a record in the window's first day that
    wrote no key (its URL had sent the key less than a day before, outside the window) is not
    found. Nothing outside the window is ever named."""
    now = timezone.now()
    _post_at(vendor_url[0], now - dt.timedelta(days=30, hours=12), cellPhone="3195550100")
    resent = _post_at(vendor_url[0], now - dt.timedelta(days=29, hours=18), cellPhone="3195550100")
    assert MatchKey.objects.filter(record=resent).count() == 0
    assert flag(_post_at(nextgen[0], now, cellPhone="3195550100").pk) == (None, "")
    # A day after the older one, the URL writes its key again and is found again.
    again = _post_at(vendor_url[0], now - dt.timedelta(days=29), cellPhone="3195550100")
    assert flag(_post_at(nextgen[0], now, cellPhone="3195550100").pk) == (again.pk, "phone")


def test_a_vendor_resending_one_person_writes_one_row_per_key_and_day(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], nextgen: tuple[LeadPostUrl, str]
) -> None:
    """What keeps the look-up's read small: its rows follow the days and URLs that sent a key,
    not the posts (bench/README.md has the times)."""
    keys = {"homePhone": "3195550100", "email": "pat@example.com", "ssn": SSN}
    now = timezone.now()
    first = None
    for hours in (50, 25, 0):
        for second in range(20):
            when = now - dt.timedelta(hours=hours) + dt.timedelta(seconds=second)
            record = _post_at(vendor_url[0], when, **keys)
            first = first or record
    assert MatchKey.objects.count() == 3 * 3  # three keys, three days
    assert set(MatchKey.objects.values_list("lead_post_url_id", flat=True)) == {vendor_url[0].pk}
    later = _post_at(nextgen[0], now + dt.timedelta(minutes=1), **keys)
    assert first is not None
    assert flag(later.pk) == (first.pk, "phone,email,ssn")
    assert MatchKey.objects.filter(record=later).count() == 3
    # A key that is new to the vendor is the only one written.
    newer = _post_at(vendor_url[0], now + dt.timedelta(minutes=2), **keys, cellPhone="3195550199")
    assert MatchKey.objects.filter(record=newer).count() == 1


def test_the_key_table_holds_no_value_in_clear(
    client: Client, vendor_url: tuple[LeadPostUrl, str]
) -> None:
    send(client, vendor_url[1], homePhone="3195550100", email="pat@example.com", ssn=SSN)
    rows = list(MatchKey.objects.values_list("account_id", "key", "lead_post_url_id", "record_id"))
    assert len(rows) == 3
    assert all(isinstance(value, int) for row in rows for value in row)
    assert {f.name for f in MatchKey._meta.concrete_fields} == {
        "id", "account", "key", "lead_post_url_id", "record", "created_at"
    }  # fmt: skip


def test_the_purge_drops_keys_past_the_longest_window(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], nextgen: tuple[LeadPostUrl, str]
) -> None:
    now = timezone.now()
    _post_at(vendor_url[0], now - dt.timedelta(days=40), email="old@example.com")
    kept = _post_at(vendor_url[0], now - dt.timedelta(days=29), email="pat@example.com")
    out = io.StringIO()
    call_command("purge_post_log", "--json", stdout=out)
    assert json.loads(out.getvalue())["matchKeys"] == 1
    assert list(MatchKey.objects.values_list("record_id", flat=True)) == [kept.pk]
    assert flag(_post_at(nextgen[0], now, email="pat@example.com").pk) == (kept.pk, "email")


def test_a_deleted_record_takes_its_keys_and_its_flags_with_it(
    client: Client, vendor_url: tuple[LeadPostUrl, str], nextgen: tuple[LeadPostUrl, str]
) -> None:
    first = send(client, vendor_url[1], email="pat@example.com")
    second = send(client, nextgen[1], email="pat@example.com")
    Record.objects.filter(pk=first["recordId"]).delete()
    assert flag(second["recordId"])[0] is None  # the page and the API show no flag
    assert not MatchKey.objects.filter(record_id=first["recordId"]).exists()
    # The vendor's next lead of the person writes its key again (none of the URL's is left).
    third = send(client, vendor_url[1], email="pat@example.com")
    assert flag(third["recordId"]) == (second["recordId"], "email")


def test_the_window_is_the_accounts_and_0_turns_it_off(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], nextgen: tuple[LeadPostUrl, str]
) -> None:
    now = timezone.now()
    earlier = _post_at(vendor_url[0], now - dt.timedelta(days=5), email="pat@example.com")
    agency.duplicate_window_days = 4
    agency.save()
    assert flag(_post_at(nextgen[0], now, email="pat@example.com").pk) == (None, "")
    agency.duplicate_window_days = 6
    agency.save()
    assert flag(_post_at(nextgen[0], now, email="pat@example.com").pk)[0] == earlier.pk
    agency.duplicate_window_days = 0
    agency.save()
    assert flag(_post_at(nextgen[0], now, email="pat@example.com").pk) == (None, "")


def test_a_future_record_is_no_earlier_record(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], nextgen: tuple[LeadPostUrl, str]
) -> None:
    """The earliest of several matches is named, the one the agency bought first."""
    now = timezone.now()
    oldest = _post_at(vendor_url[0], now - dt.timedelta(days=3), email="pat@example.com")
    third = LeadPostUrl.issue(agency, "SmartFinancial")[0]
    _post_at(third, now - dt.timedelta(days=1), email="pat@example.com")
    later = _post_at(nextgen[0], now, email="pat@example.com")
    assert flag(later.pk)[0] == oldest.pk


def test_the_vendors_answer_and_post_log_say_nothing_of_it(
    client: Client, vendor_url: tuple[LeadPostUrl, str], nextgen: tuple[LeadPostUrl, str]
) -> None:
    keys = {"homePhone": "319-555-0100", "email": "pat@example.com", "ssn": SSN}
    unflagged = send(client, nextgen[1], externalID="a", **keys)
    send(client, vendor_url[1], externalID="b", **keys)
    flagged = send(client, nextgen[1], externalID="c", **keys)
    assert flag(flagged["recordId"])[0] is not None
    # The same answer as a lead that matched nothing, but for its ids.
    ids = ("postId", "recordId")
    assert {k: v for k, v in flagged.items() if k not in ids} == {
        k: v for k, v in unflagged.items() if k not in ids
    }
    assert "duplicate" not in json.dumps(flagged).lower()
    dry = client.post(f"/leadpost/{nextgen[1]}/test", data=urlencode(keys), content_type=FORM)
    assert "duplicate" not in dry.content.decode().lower()
    logged = PostLog.objects.get(pk=flagged["postId"])
    assert "duplicate" not in json.dumps(logged.warnings).lower()


def test_hostile_values_beside_a_match_still_make_a_flagged_lead(
    client: Client, vendor_url: tuple[LeadPostUrl, str], nextgen: tuple[LeadPostUrl, str]
) -> None:
    first = send(client, vendor_url[1], email="pat@example.com")
    fields = {
        "firstName": "Pat",
        "lastName": "Lee",
        "email": "pat@example.com",
        "homePhone": "\x00" + "9" * 1_000_000,  # not a phone: dropped, warned
        "cellPhone": "123-45-6789",  # SSN-shaped
        "businessPhone": "9" * 400,
    }
    body = urlencode(fields).encode() + b"&ssn=%FF%FE1234"  # invalid UTF-8
    response = client.post(f"/leadpost/{nextgen[1]}", data=body, content_type=FORM)
    assert response.status_code == 200
    second = response.json()
    assert flag(second["recordId"]) == (first["recordId"], "email")
    assert "123-45" not in response.content.decode()


def test_the_read_api_shows_the_earlier_record_and_what_matched(
    client: Client,
    api_token: str,
    vendor_url: tuple[LeadPostUrl, str],
    nextgen: tuple[LeadPostUrl, str],
) -> None:
    first = send(client, vendor_url[1], cellPhone="3195550100", ssn=SSN)
    second = send(client, nextgen[1], businessPhone="3195550100", ssn=SSN)
    shown = api(client, api_token, second["recordId"])["possibleDuplicateOf"]
    earlier = Record.objects.get(pk=first["recordId"])
    assert shown == {
        "recordId": first["recordId"],
        "recordType": "individual",
        "leadPostUrlId": vendor_url[0].pk,
        "vendor": "Datalot",
        "createdAt": earlier.created_at.isoformat(),
        "matchedOn": ["phone", "ssn"],
    }
    assert api(client, api_token, first["recordId"])["possibleDuplicateOf"] is None
    detail = json.dumps(api(client, api_token, second["recordId"]))
    assert "212-55" not in detail and "212551234" not in detail


def _page(client: Client, record: Record) -> str:
    model = "individual" if record.record_type == RecordType.INDIVIDUAL else "salesrecord"
    response = client.get(f"/staff/records/{model}/{record.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_record_page_shows_the_flag_with_a_link(
    client: Client,
    agency: Account,
    staff_member: Any,
    vendor_url: tuple[LeadPostUrl, str],
    nextgen: tuple[LeadPostUrl, str],
) -> None:
    first = send(client, vendor_url[1], homePhone="3195550100", email="pat@example.com")
    second = send(client, nextgen[1], cellPhone="3195550100", email="PAT@example.com")
    client.force_login(staff_member(agency, "rita"))
    earlier = Record.objects.get(pk=first["recordId"])
    day = agency.local_date(earlier.created_at)
    page = _page(client, Record.objects.get(pk=second["recordId"]))
    assert (
        f'Possible duplicate of <a href="/staff/records/individual/{earlier.pk}/change/">'
        f"record {earlier.pk}</a> (vendor Datalot, {day:%b %-d, %Y}): the same phone, e-mail."
    ) in page
    assert "Possible duplicate of" not in _page(client, earlier)


def test_a_sales_record_is_named_only_to_users_who_see_sales_enablement(
    client: Client,
    agency: Account,
    staff_member: Any,
    vendor_url: tuple[LeadPostUrl, str],
    nextgen: tuple[LeadPostUrl, str],
) -> None:
    """Both types match each other (one person to the agency); the page tells of a Sales
    Record only to a user who may see Sales Records (SPEC §10)."""
    agency.record_mode = RecordType.SALES_RECORD
    agency.save()
    sales = send(client, vendor_url[1], email="pat@example.com")
    agency.record_mode = RecordType.INDIVIDUAL
    agency.save()
    individual = send(client, nextgen[1], email="pat@example.com")
    assert flag(individual["recordId"]) == (sales["recordId"], "email")
    record = Record.objects.get(pk=individual["recordId"])

    client.force_login(staff_member(agency, "ivy"))
    page = _page(client, record)
    assert "Possible duplicate of" not in page and "Sales Record" not in page
    assert f"salesrecord/{sales['recordId']}" not in page

    client.force_login(staff_member(agency, "sam", Permission.SALES_ENABLEMENT))
    page = _page(client, record)
    assert f'<a href="/staff/records/salesrecord/{sales["recordId"]}/change/">' in page
    assert f"Sales Record {sales['recordId']}</a> (vendor Datalot," in page


def _vendor_totals(client: Client, token: str) -> dict[str, dict[str, Any]]:
    response = client.get(
        "/api/v1/vendors", {"period": "today"}, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200
    return {v["label"]: v["total"] for v in response.json()["vendors"]}


def test_the_vendor_figures_count_flagged_leads_per_url_and_day(
    client: Client,
    agency: Account,
    staff_member: Any,
    api_token: str,
    vendor_url: tuple[LeadPostUrl, str],
    nextgen: tuple[LeadPostUrl, str],
) -> None:
    send(client, vendor_url[1], email="pat@example.com", externalID="1")
    send(client, nextgen[1], email="pat@example.com", externalID="2")
    send(client, nextgen[1], ssn=SSN, externalID="3")
    send(client, vendor_url[1], ssn=SSN, externalID="4")
    send(client, nextgen[1], email="pat@example.com", externalID="2")  # a retry: "duplicate"
    send(client, nextgen[1], email="someone.else@example.com", externalID="5")
    live = _vendor_totals(client, api_token)
    assert live["Datalot"]["possibleDuplicates"] == 1
    assert live["NextGen Leads"]["possibleDuplicates"] == 1
    assert live["NextGen Leads"]["duplicate"] == 1  # the externalID retry, not a flag

    client.force_login(staff_member(agency, "val", Permission.VIEW_POST_LOG))
    page = client.get(f"/staff/vendors/{nextgen[0].pk}/", {"period": "today"}).content.decode()
    assert '<td class="n possible-duplicates">1</td>' in page
    csv_text = client.get(
        f"/staff/vendors/{nextgen[0].pk}/days.csv", {"period": "today"}
    ).content.decode("utf-8-sig")
    header, *rows = [line.split(",") for line in csv_text.splitlines()]
    column = header.index("possible_duplicates")
    assert {(r[0], r[2], r[column]) for r in rows if r[2] == "NextGen Leads"} >= {
        ("total", "NextGen Leads", "1")
    }

    # The same counts once the day is rolled up into the counters (and the post log purged).
    roll_up(now=timezone.now() + dt.timedelta(days=2))
    PostLog.objects.all().delete()
    tomorrow = agency.local_date(timezone.now())
    response = client.get(
        "/api/v1/vendors",
        {"from": tomorrow.isoformat(), "to": tomorrow.isoformat()},
        HTTP_AUTHORIZATION=f"Bearer {api_token}",
    )
    rolled = {v["label"]: v["total"] for v in response.json()["vendors"]}
    assert rolled["Datalot"]["possibleDuplicates"] == 1
    assert rolled["NextGen Leads"]["possibleDuplicates"] == 1


def test_an_individual_flagged_against_a_sales_record_is_not_counted_without_sales(
    client: Client,
    agency: Account,
    api_token: str,
    vendor_url: tuple[LeadPostUrl, str],
    nextgen: tuple[LeadPostUrl, str],
) -> None:
    agency.record_mode = RecordType.SALES_RECORD
    agency.save()
    send(client, vendor_url[1], email="pat@example.com")
    agency.record_mode = RecordType.INDIVIDUAL
    agency.save()
    send(client, nextgen[1], email="pat@example.com")
    # The Individual mode's figures are read without Sales Enablement: no count there.
    assert _vendor_totals(client, api_token)["NextGen Leads"]["possibleDuplicates"] == 0


@pytest.mark.parametrize(
    ("value", "saved"),
    [
        ("45", 45),
        ("0", 0),
        ("365", 365),
        ("366", None),
        ("-1", None),
        ("9" * 30, None),
        ("3\x000", None),
        ("", None),
    ],
)
def test_staff_set_the_window_on_the_accounts_settings(
    client: Client, agency: Account, staff_member: Any, value: str, saved: int | None
) -> None:
    client.force_login(staff_member(agency, "max", Permission.MANAGE_USERS))
    page = f"/staff/accounts/account/{agency.pk}/change/"
    assert 'name="duplicate_window_days"' in client.get(page).content.decode()
    response = client.post(
        page, {"time_zone": agency.time_zone, "duplicate_window_days": value, "fallback_agent": ""}
    )
    agency.refresh_from_db()
    if saved is None:
        assert response.status_code == 200  # the form again, with the error
        assert agency.duplicate_window_days == 30
    else:
        assert response.status_code == 302
        assert agency.duplicate_window_days == saved


def test_operators_set_the_window_in_the_admin(client: Client, agency: Account) -> None:
    from leadpost.accounts.models import User

    operator = User.objects.create_superuser("op", password=None)
    client.force_login(operator)
    page = client.get(f"/admin/accounts/account/{agency.pk}/change/").content.decode()
    assert 'name="duplicate_window_days" value="30"' in page
