"""Returning a record to its vendor, and undoing it (SPEC §14): the rules live here once.

A record may be returned only if it came through a Lead Post URL, and only while that URL's return
window (days, counted from the record's creation to the second) is open; 0 days means the vendor
takes no returns. The window is the URL's as it is set when staff return the record. An undo is
possible on the account's local day of the return only: by the next day the report may have gone.
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata

from django.db import transaction
from django.utils import timezone

from leadpost.accounts.models import User
from leadpost.lib.logredact import redact_text
from leadpost.records.models import Record
from leadpost.returns.models import RecordReturn, ReturnReason
from leadpost.webhooks.events import emit
from leadpost.webhooks.models import EventType

logger = logging.getLogger(__name__)

# A note is a sentence or two for the vendor, not a document.
NOTE_MAX = 1000
_KEPT_CONTROLS = {"\n", "\t"}


class ReturnRefused(Exception):
    """Why a record cannot be returned, or its return undone, in words staff read as they are."""


def clean_note(text: str) -> str:
    """A note as stored: control characters (a NUL) dropped, line ends made `\\n`, URL tokens
    cut to their first characters and SSN shapes masked as in the logs (SPEC §9), at most
    NOTE_MAX characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(
        c for c in text if c in _KEPT_CONTROLS or unicodedata.category(c) not in ("Cc", "Cs")
    )
    return redact_text(kept.strip())[:NOTE_MAX]


def _when(moment: dt.datetime, record: Record) -> str:
    local = moment.astimezone(record.account.tz)
    return f"{local:%b} {local.day}, {local.year} {local:%H:%M} ({record.account.time_zone})"


def window_end(record: Record) -> dt.datetime | None:
    """When the record's return window closes; None when it has none (no URL, or 0 days)."""
    url = record.lead_post_url
    if url is None or url.return_window_days == 0:
        return None
    return record.created_at + dt.timedelta(days=url.return_window_days)


def refusal(record: Record, now: dt.datetime) -> str | None:
    """Why `record` cannot be returned now, or None if it can."""
    url = record.lead_post_url
    if url is None:
        return (
            "This record did not come through a Lead Post URL (staff made it, or it came "
            "before URLs were recorded), so there is no vendor to return it to."
        )
    if url.return_window_days == 0:
        return (
            f"{url.label} takes no returns: the return window of its Lead Post URL is 0 days. "
            "Someone who may manage Lead Post URLs can change it."
        )
    end = window_end(record)
    assert end is not None
    if now >= end:
        days = url.return_window_days
        return (
            f"Too late to return this record: {url.label} takes returns for {days} "
            f"day{'s' if days != 1 else ''} after a record is created, and this record's "
            f"window closed on {_when(end, record)}."
        )
    return None


@transaction.atomic(durable=True)
def return_record(
    record: Record, reason: str, note: str, *, by: User, now: dt.datetime | None = None
) -> RecordReturn:
    """Return `record` to its vendor; its `record.returned` event is written in the same
    transaction. Raises ReturnRefused with the reason in words."""
    now = now or timezone.now()
    if reason not in ReturnReason.values:
        raise ReturnRefused("Choose one of the reasons listed.")
    # The record's row lock orders concurrent returns of it: the second sees the first's.
    locked = (
        Record.objects.select_for_update(of=("self",))
        .select_related("account", "lead_post_url")
        .get(pk=record.pk)
    )
    existing = RecordReturn.objects.filter(record=locked).select_related("returned_by").first()
    if existing is not None:
        raise ReturnRefused(
            f"This record was already returned on {_when(existing.returned_at, locked)}"
            f" by {existing.returned_by or 'a user since deleted'}."
        )
    why = refusal(locked, now)
    if why is not None:
        raise ReturnRefused(why)
    assert locked.lead_post_url is not None
    returned = RecordReturn.objects.create(
        account_id=locked.account_id,
        record=locked,
        lead_post_url=locked.lead_post_url,
        reason=reason,
        note=clean_note(note),
        returned_at=now,
        returned_on=locked.account.local_date(now),
        returned_by=by,
    )
    emit(locked.account_id, [EventType.RECORD_RETURNED], record_id=locked.pk)
    return returned


def undo_refusal(returned: RecordReturn, now: dt.datetime) -> str | None:
    """Why the return cannot be undone now, or None if it can."""
    account = returned.record.account
    if account.local_date(now) == returned.returned_on:
        return None
    day = returned.returned_on
    return (
        f"This return can no longer be undone: a return can be undone only on the day it was "
        f"made ({day:%b} {day.day}, {day.year} in {account.time_zone}), and the vendor may "
        "have been sent it since."
    )


@transaction.atomic(durable=True)
def undo_return(record: Record, *, by: User, now: dt.datetime | None = None) -> None:
    """Undo the return of `record` on the day it was made. No event: `record.returned` said
    the record was returned then, which stays true of that moment; a receiver that needs the
    present state reads the record, whose `returned` is null again."""
    now = now or timezone.now()
    returned = (
        RecordReturn.objects.select_for_update(of=("self",))
        .select_related("record__account")
        .filter(record_id=record.pk)
        .first()
    )
    if returned is None:
        raise ReturnRefused("This record is not returned, so there is nothing to undo.")
    why = undo_refusal(returned, now)
    if why is not None:
        raise ReturnRefused(why)
    returned.delete()
    # The row goes; who undid it stays in the log.
    logger.info("return of record %s undone by user %s", record.pk, by.pk)
