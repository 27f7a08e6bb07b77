"""The rules of a return (SPEC §14) as plain functions: the window, the undo's day, the note,
and the `record.returned` event in the return's own transaction."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from leadpost.accounts.models import Account, User
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.choices import RecordType
from leadpost.records.models import Record
from leadpost.returns import actions
from leadpost.returns.actions import ReturnRefused, clean_note, return_record, undo_return
from leadpost.returns.models import RecordReturn, ReturnReason
from leadpost.returns.tests.conftest import LeadFn
from leadpost.webhooks.models import EventType, WebhookEvent
from leadpost.webhooks.tasks import event_body
from leadpost.webhooks.tests.conftest import subscribe

HOUR = dt.timedelta(hours=1)
SECOND = dt.timedelta(seconds=1)


def test_a_lead_is_returned_until_the_last_second_of_its_window(
    lead: LeadFn, manager: User
) -> None:
    record = lead()
    end = record.created_at + dt.timedelta(days=7)  # the default window
    returned = return_record(
        record, ReturnReason.BAD_PHONE, "disconnected", by=manager, now=end - SECOND
    )
    assert (returned.reason, returned.note, returned.returned_by) == (
        "bad_phone",
        "disconnected",
        manager,
    )
    assert returned.lead_post_url == record.lead_post_url


def test_at_the_window_s_end_the_return_is_refused_saying_when_it_closed(
    lead: LeadFn, manager: User, agency: Account
) -> None:
    record = lead()
    end = record.created_at + dt.timedelta(days=7)
    with pytest.raises(ReturnRefused) as refused:
        return_record(record, ReturnReason.FAKE, "", by=manager, now=end)
    local = end.astimezone(agency.tz)
    assert str(refused.value) == (
        "Too late to return this record: Datalot takes returns for 7 days after a record is "
        f"created, and this record's window closed on {local:%b} {local.day}, {local.year} "
        f"{local:%H:%M} (America/Chicago)."
    )
    assert not RecordReturn.objects.exists()


def test_the_window_is_the_url_s_as_set_when_staff_return(
    lead: LeadFn, manager: User, vendor_url: tuple[LeadPostUrl, str]
) -> None:
    record = lead()
    url = vendor_url[0]
    url.return_window_days = 1
    url.save()
    with pytest.raises(ReturnRefused, match="takes returns for 1 day after"):
        return_record(record, "fake", "", by=manager, now=record.created_at + dt.timedelta(days=2))
    url.return_window_days = 30
    url.save()
    return_record(record, "fake", "", by=manager, now=record.created_at + dt.timedelta(days=2))


def test_a_url_with_a_window_of_0_days_takes_no_returns(
    lead: LeadFn, manager: User, vendor_url: tuple[LeadPostUrl, str]
) -> None:
    url = vendor_url[0]
    url.return_window_days = 0
    url.save()
    record = lead()
    with pytest.raises(ReturnRefused) as refused:
        return_record(record, "duplicate", "", by=manager, now=record.created_at + SECOND)
    assert "Datalot takes no returns: the return window of its Lead Post URL is 0 days" in str(
        refused.value
    )


def test_a_record_staff_made_has_no_vendor_to_return_it_to(agency: Account, manager: User) -> None:
    record = Record.objects.create(
        account=agency, record_type=RecordType.INDIVIDUAL, first_name="Walk", last_name="In"
    )
    with pytest.raises(ReturnRefused, match="did not come through a Lead Post URL"):
        return_record(record, "other", "", by=manager)


def test_a_record_is_returned_once_and_a_reason_must_be_one_of_the_list(
    lead: LeadFn, manager: User
) -> None:
    record = lead()
    with pytest.raises(ReturnRefused, match="Choose one of the reasons listed"):
        return_record(record, "too_expensive", "", by=manager)
    return_record(record, "wrong_state", "", by=manager)
    with pytest.raises(ReturnRefused, match=r"already returned on .* by Ada Admin"):
        return_record(record, "fake", "", by=manager)
    assert RecordReturn.objects.get().reason == "wrong_state"


def _late_evening(record: Record, account: Account) -> dt.datetime:
    """23:30 of the day after the record's creation, in the account's time zone: 05:30 UTC of
    the day after that, so the UTC day and the account's differ."""
    day = account.local_date(record.created_at) + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(23, 30), tzinfo=account.tz)


def test_undo_on_the_account_s_day_of_the_return_even_past_utc_midnight(
    lead: LeadFn, manager: User, agency: Account
) -> None:
    record = lead()
    at = _late_evening(record, agency)
    returned = return_record(record, "fake", "", by=manager, now=at)
    assert returned.returned_on == at.date()
    later = at + dt.timedelta(minutes=29)  # 23:59 in Chicago, already the next day in UTC
    assert later.astimezone(dt.UTC).date() != at.date()
    undo_return(record, by=manager, now=later)
    assert not RecordReturn.objects.exists()
    # Undone, it may be returned again while the window is open.
    return_record(record, "duplicate", "", by=manager, now=later)


def test_undo_on_the_account_s_next_day_is_refused(
    lead: LeadFn, manager: User, agency: Account
) -> None:
    record = lead()
    at = _late_evening(record, agency)
    return_record(record, "fake", "", by=manager, now=at)
    with pytest.raises(ReturnRefused) as refused:
        undo_return(record, by=manager, now=at + dt.timedelta(minutes=31))  # 00:01 next day
    assert str(refused.value) == (
        "This return can no longer be undone: a return can be undone only on the day it was "
        f"made ({at:%b} {at.day}, {at.year} in America/Chicago), and the vendor may have been "
        "sent it since."
    )
    assert RecordReturn.objects.filter(record=record).exists()


def test_undo_of_a_record_not_returned_is_refused(lead: LeadFn, manager: User) -> None:
    with pytest.raises(ReturnRefused, match="not returned, so there is nothing to undo"):
        undo_return(lead(), by=manager)


@pytest.mark.parametrize(
    ("note", "stored"),
    [
        ("nul\x00 and bell\x07 dropped", "nul and bell dropped"),
        ("line one\r\nline two\ttab", "line one\nline two\ttab"),
        ("SSN 123-45-6789 and 123456789", "SSN ***-**-6789 and ***-**-6789"),
        ("  kept as typed: ünïcode ✓  ", "kept as typed: ünïcode ✓"),
        ("word " * 400_000, ("word " * 200)[: actions.NOTE_MAX]),
    ],
)
def test_a_note_is_cleaned_of_controls_ssns_and_cut(note: str, stored: str) -> None:
    assert clean_note(note) == stored


def test_a_note_never_keeps_the_url_token(
    lead: LeadFn, manager: User, vendor_url: tuple[LeadPostUrl, str]
) -> None:
    token = vendor_url[1]
    record = lead()
    note = f"vendor says resend to {LeadPostUrl.full_url(token)} or token {token}"
    returned = return_record(record, "other", note, by=manager)
    assert token not in returned.note
    assert token[6:12] not in returned.note
    assert returned.note.startswith("vendor says resend to ")


# --- the record.returned event ---------------------------------------------------------------


def _events() -> list[tuple[str, int | None]]:
    return [(e.type, e.record_id) for e in WebhookEvent.objects.order_by("id")]


def test_a_return_writes_record_returned_with_the_record_as_returned(
    lead: LeadFn, manager: User, agency: Account
) -> None:
    subscribe(agency, "https://crm.example.com/hooks", [EventType.RECORD_RETURNED.value])
    record = lead()
    assert _events() == []  # the webhook takes returns only
    return_record(record, "no_consent", "no TCPA text on the page", by=manager)
    assert _events() == [("record.returned", record.pk)]
    body = json.loads(event_body(WebhookEvent.objects.get()))
    assert body["type"] == "record.returned"
    returned = body["data"]["returned"]
    assert returned["reason"] == "no_consent"
    assert returned["note"] == "no TCPA text on the page"
    assert returned["by"] == {"id": manager.pk, "firstName": "Ada", "lastName": "Admin"}
    assert dt.datetime.fromisoformat(returned["at"]) == RecordReturn.objects.get().returned_at


def test_a_refused_return_and_an_undo_write_no_event(
    lead: LeadFn, manager: User, agency: Account
) -> None:
    subscribe(agency, "https://crm.example.com/hooks", [EventType.RECORD_RETURNED.value])
    record = lead()
    return_record(record, "fake", "", by=manager)
    with pytest.raises(ReturnRefused):
        return_record(record, "fake", "", by=manager)
    undo_return(record, by=manager)
    assert _events() == [("record.returned", record.pk)]


def test_an_account_not_subscribed_gets_no_event(lead: LeadFn, manager: User) -> None:
    return_record(lead(), "fake", "", by=manager)
    assert _events() == []


def test_a_return_rolled_back_after_its_event_leaves_neither(
    lead: LeadFn, manager: User, agency: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe(agency, "https://crm.example.com/hooks", [EventType.RECORD_RETURNED.value])
    record = lead()
    written: list[Any] = []

    def emit_then_fail(*args: Any, **kwargs: Any) -> Any:
        written.extend(original(*args, **kwargs))
        raise RuntimeError("the database went away after the event")

    original = actions.emit
    monkeypatch.setattr(actions, "emit", emit_then_fail)
    with pytest.raises(RuntimeError):
        return_record(record, "fake", "", by=manager)
    assert len(written) == 1  # it was written, in the transaction that then rolled back
    assert _events() == []
    assert not RecordReturn.objects.exists()
