"""The return action on a record's staff page, over HTTP: who may return or undo, what each
refusal says, hostile notes, and what the page and the read API then show (SPEC §14)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.test import Client

from leadpost.accounts.models import Account, Permission, User
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.choices import RecordType
from leadpost.records.models import Record
from leadpost.returns.actions import return_record
from leadpost.returns.models import RecordReturn
from leadpost.returns.tests.conftest import LeadFn, record_page, return_path, text_of


def returned_ids() -> list[int]:
    return list(RecordReturn.objects.values_list("record_id", flat=True))


def test_a_manager_returns_a_lead_from_its_page_and_sees_it_there(
    client: Client, lead: LeadFn, manager: User
) -> None:
    record = lead()
    client.force_login(manager)
    page = client.get(record_page(record))
    assert page.status_code == 200
    assert 'id="return-form"' in text_of(page)
    assert "may be returned to Datalot until" in text_of(page)

    reply = client.post(return_path(record), {"reason": "bad_phone", "note": "line dead"})
    assert reply.status_code == 302
    assert reply["Location"] == record_page(record)
    page = client.get(record_page(record))
    text = text_of(page)
    assert "is returned to Datalot." in text  # the message
    assert "<strong>Returned</strong> to Datalot on" in text
    assert "by Ada Admin." in text
    assert '<strong class="reason">Bad phone</strong>' in text
    assert "line dead" in text
    assert 'id="undo-return-form"' in text
    assert 'id="return-form"' not in text

    reply = client.post(f"{return_path(record)}undo/")
    assert reply.status_code == 302
    assert returned_ids() == []
    assert "The return of Pat Lee1 is undone." in text_of(client.get(record_page(record)))


def test_the_read_api_shows_returned_then_null_after_the_undo(
    client: Client, lead: LeadFn, manager: User, api_token: str
) -> None:
    record = lead()

    def api() -> dict[str, object]:
        reply = client.get(f"/api/v1/records/{record.pk}", HTTP_AUTHORIZATION=f"Bearer {api_token}")
        assert reply.status_code == 200
        data: dict[str, object] = reply.json()
        return data

    assert api()["returned"] is None
    returned = return_record(record, "duplicate", "same as 4411", by=manager)
    assert api()["returned"] == {
        "reason": "duplicate",
        "note": "same as 4411",
        "at": returned.returned_at.isoformat(),
        "by": {"id": manager.pk, "firstName": "Ada", "lastName": "Admin"},
    }


def test_refusals_say_why_on_a_page_of_their_own(
    client: Client,
    lead: LeadFn,
    manager: User,
    agency: Account,
    vendor_url: tuple[LeadPostUrl, str],
) -> None:
    client.force_login(manager)
    staff_made = Record.objects.create(
        account=agency, record_type=RecordType.INDIVIDUAL, first_name="Walk", last_name="In"
    )
    assert "did not come through a Lead Post URL" in text_of(client.get(record_page(staff_made)))
    reply = client.post(return_path(staff_made), {"reason": "fake"})
    assert reply.status_code == 409
    assert "did not come through a Lead Post URL" in text_of(reply)

    old = lead()
    Record.objects.filter(pk=old.pk).update(created_at=old.created_at - dt.timedelta(days=8))
    assert "Too late to return this record" in text_of(client.get(record_page(old)))
    reply = client.post(return_path(old), {"reason": "fake"})
    assert reply.status_code == 409
    assert "Too late to return this record: Datalot takes returns for 7 days" in text_of(reply)

    url = vendor_url[0]
    url.return_window_days = 0
    url.save()
    reply = client.post(return_path(lead()), {"reason": "fake"})
    assert reply.status_code == 409
    assert "Datalot takes no returns" in text_of(reply)
    assert returned_ids() == []


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"reason": "cheap"}, "Choose one of the reasons listed."),
        ({}, "This field is required."),
        ({"reason": "fake", "note": "a\x00b"}, "Null characters are not allowed."),
        ({"reason": "fake", "note": "n" * 1_000_000}, "at most 1000 characters"),
        ({"reason": "fake\x00"}, "Choose one of the reasons listed."),
    ],
)
def test_a_bad_form_is_a_400_in_words_and_returns_nothing(
    client: Client, lead: LeadFn, manager: User, data: dict[str, str], said: str
) -> None:
    client.force_login(manager)
    reply = client.post(return_path(lead()), data)
    assert reply.status_code == 400
    assert said in text_of(reply)
    assert returned_ids() == []


def test_ssn_shapes_and_the_url_token_never_reach_the_page(
    client: Client, lead: LeadFn, manager: User, vendor_url: tuple[LeadPostUrl, str]
) -> None:
    token = vendor_url[1]
    client.force_login(manager)
    record = lead()
    note = f"SSN 123-45-6789 / 987654321, URL {LeadPostUrl.full_url(token)}"
    assert client.post(return_path(record), {"reason": "fake", "note": note}).status_code == 302
    text = text_of(client.get(record_page(record)))
    assert "***-**-6789" in text and "***-**-4321" in text
    for secret in ("123-45-6789", "987654321", token, token[6:]):
        assert secret not in text


def test_only_a_post_changes_anything_and_it_needs_the_csrf_token(
    lead: LeadFn, manager: User
) -> None:
    record = lead()
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    assert client.get(return_path(record)).status_code == 405
    assert client.get(f"{return_path(record)}undo/").status_code == 405
    assert client.post(return_path(record), {"reason": "fake"}).status_code == 403
    assert returned_ids() == []


Maker = Callable[..., User]


def test_four_kinds_of_user_and_an_outsider(
    client: Client,
    lead: LeadFn,
    agency: Account,
    other_agency: Account,
    staff_member: Maker,
    manager: User,
) -> None:
    record = lead()
    viewer = staff_member(agency, "val", Permission.VIEW_POST_LOG, Permission.MANAGE_URLS)
    agent = staff_member(agency, "al")
    operator = User.objects.create_superuser("root", password="x-9-operator-pw")
    outsider = staff_member(other_agency, "oscar", Permission.MANAGE_DATA)

    for user in (viewer, agent):
        client.force_login(user)
        page = text_of(client.get(record_page(record)))
        assert 'id="return-form"' not in page
        assert "Returning needs the Manage Data &amp; Custom Fields permission." in page
        reply = client.post(return_path(record), {"reason": "fake"})
        assert reply.status_code == 403
        assert "Manage Data &amp; Custom Fields" in text_of(reply)
    for user in (operator, outsider):
        client.force_login(user)
        assert client.post(return_path(record), {"reason": "fake"}).status_code == 404
    client.logout()
    reply = client.post(return_path(record), {"reason": "fake"})
    assert reply.status_code == 302 and "/staff/login/" in reply["Location"]
    assert returned_ids() == []

    client.force_login(manager)
    assert client.post(return_path(record), {"reason": "fake"}).status_code == 302
    # Undo: the same rule.
    for user in (viewer, agent):
        client.force_login(user)
        assert client.post(f"{return_path(record)}undo/").status_code == 403
        assert "Returned" in text_of(client.get(record_page(record)))  # seen, not undone
    for user in (operator, outsider):
        client.force_login(user)
        assert client.post(f"{return_path(record)}undo/").status_code == 404
    assert returned_ids() == [record.pk]


@pytest.mark.parametrize("pk", ["999999", "abc", "1e3", "９", "1" * 40, "-1"])
def test_ids_that_are_no_record_of_the_account_are_404(
    client: Client, manager: User, pk: str
) -> None:
    client.force_login(manager)
    assert client.post(f"/staff/returns/record/{pk}/", {"reason": "fake"}).status_code == 404


def test_another_account_s_record_is_404_to_a_manager(
    client: Client, manager: User, other_agency: Account
) -> None:
    url, _ = LeadPostUrl.issue(other_agency, "Theirs")
    theirs = Record.objects.create(
        account=other_agency,
        record_type=RecordType.INDIVIDUAL,
        first_name="Not",
        last_name="Yours",
        lead_post_url=url,
    )
    client.force_login(manager)
    assert client.post(return_path(theirs), {"reason": "fake"}).status_code == 404
    assert client.post(f"{return_path(theirs)}undo/").status_code == 404
    assert returned_ids() == []


def test_a_sales_record_is_returned_only_by_who_sees_sales_enablement(
    client: Client, lead: LeadFn, premium: Account, staff_member: Maker, manager: User
) -> None:
    record = lead()
    assert record.record_type == RecordType.SALES_RECORD
    blind = staff_member(premium, "bea", Permission.MANAGE_DATA)
    client.force_login(blind)
    assert client.post(return_path(record), {"reason": "fake"}).status_code == 404
    client.force_login(manager)
    assert client.post(return_path(record), {"reason": "fake"}).status_code == 302
    assert "<strong>Returned</strong>" in text_of(client.get(record_page(record)))


def test_the_next_day_s_undo_is_refused_on_the_page(
    client: Client, lead: LeadFn, manager: User
) -> None:
    record = lead()
    returned = return_record(record, "fake", "", by=manager)
    RecordReturn.objects.filter(pk=returned.pk).update(
        returned_on=returned.returned_on - dt.timedelta(days=1)
    )
    client.force_login(manager)
    page = text_of(client.get(record_page(record)))
    assert "This return can no longer be undone" in page
    assert 'id="undo-return-form"' not in page
    reply = client.post(f"{return_path(record)}undo/")
    assert reply.status_code == 409
    assert "can be undone only on the day it was made" in text_of(reply)
    assert returned_ids() == [record.pk]


def test_the_url_forms_take_a_return_window_of_0_to_365_days(
    client: Client, agency: Account, staff_member: Maker, vendor_url: tuple[LeadPostUrl, str]
) -> None:
    url = vendor_url[0]
    client.force_login(staff_member(agency, "uma", Permission.MANAGE_URLS))
    path = f"/staff/intake/leadposturl/{url.pk}/change/"
    page = text_of(client.get(path))
    assert 'name="return_window_days"' in page and 'value="7"' in page
    form = {"label": "Datalot", "enabled": "on", "return_window_days": "30"}
    assert client.post(path, form).status_code == 302
    url.refresh_from_db()
    assert url.return_window_days == 30
    for bad, said in [
        ("366", "less than or equal to 365"),
        ("-1", "greater than or equal to 0"),
        ("9" * 30, "less than or equal to 365"),
        ("seven", "Enter a whole number."),
    ]:
        reply = client.post(path, {**form, "return_window_days": bad})
        assert reply.status_code == 200
        assert said in text_of(reply)
    url.refresh_from_db()
    assert url.return_window_days == 30
    # Left empty: the default; a form of before the field keeps the URL's window.
    assert client.post(path, {**form, "return_window_days": ""}).status_code == 302
    url.refresh_from_db()
    assert url.return_window_days == 7
    url.return_window_days = 0
    url.save()
    assert client.post(path, {"label": "Datalot", "enabled": "on"}).status_code == 302
    url.refresh_from_db()
    assert url.return_window_days == 0


def test_the_operators_url_form_has_the_window(client: Client, agency: Account) -> None:
    operator = User.objects.create_superuser("root", password="x-9-operator-pw")
    client.force_login(operator)
    page = text_of(client.get("/admin/intake/leadposturl/add/"))
    assert 'name="return_window_days"' in page


def test_a_webhook_can_choose_record_returned(
    client: Client, agency: Account, staff_member: Maker
) -> None:
    client.force_login(staff_member(agency, "uma", Permission.MANAGE_URLS))
    page = text_of(client.get("/staff/webhooks/webhooksubscription/add/"))
    assert 'value="record.returned"' in page
    assert "record.returned: staff returned a record to its vendor" in page
