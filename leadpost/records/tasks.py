"""Background work on records, run by `leadpost worker` (Django's tasks, django-tasks-db backend):
downloading the files of URL attachments (SPEC §8).

The attachment row stays the truth (state, attempts, lease, last error); a task only nudges it, and
`sweep` re-enqueues work whose worker died, so nothing stays pending forever.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.tasks import task
from django.utils import timezone

from leadpost.lib.fetch import FetchError, Policy, fetch
from leadpost.records.models import Attachment, AttachmentState, attachment_storage_name
from leadpost.vendors.rollup import attachment_settled
from leadpost.webhooks.events import emit
from leadpost.webhooks.models import EventType

logger = logging.getLogger(__name__)


@task()
def download_attachment(attachment_id: int) -> str:
    """One attempt at downloading a URL attachment; the attachment row says what happened."""
    return download(attachment_id)


def fetch_policy() -> Policy:
    return Policy(
        max_bytes=settings.LEADPOST_FETCH_MAX_BYTES,
        timeout=settings.LEADPOST_FETCH_TIMEOUT,
        max_redirects=3,
        allow_loopback=settings.LEADPOST_FETCH_ALLOW_LOOPBACK,
    )


def fetch_backoff(attempts: int) -> dt.timedelta:
    """How long a fetch (a download, a TrustedForm claim) waits before its next try."""
    base: int = settings.LEADPOST_FETCH_BACKOFF_SECONDS
    return dt.timedelta(seconds=base * 2 ** max(0, attempts - 1))


def _claim(attachment_id: int, now: dt.datetime) -> str | None:
    """Take the download of a pending attachment for `lease` seconds; None when not ours to do."""
    token = uuid.uuid4().hex
    lease = dt.timedelta(seconds=settings.LEADPOST_ATTACHMENT_LEASE_SECONDS)
    claimed = (
        Attachment.objects.filter(pk=attachment_id, state=AttachmentState.PENDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(lease_until=now + lease, lease_token=token, attempts=F("attempts") + 1)
    )
    return token if claimed else None


def download(attachment_id: int) -> str:
    """Run one download attempt of an attachment; returns its state afterwards (for the task log)."""
    now = timezone.now()
    token = _claim(attachment_id, now)
    if token is None:
        return "not claimed"
    attachment = Attachment.objects.select_related("note__record").get(pk=attachment_id)
    try:
        fetched = fetch(attachment.source_url, fetch_policy())
    except FetchError as exc:
        return _failed_attempt(attachment, token, exc)
    with transaction.atomic():
        # Only the holder of the current lease stores: a worker that lost its lease (it was slow
        # and presumed dead) must not write a second copy or overwrite a newer state.
        current = Attachment.objects.select_for_update().filter(pk=attachment_id).first()
        if (
            current is None
            or current.state != AttachmentState.PENDING
            or current.lease_token != token
        ):
            return "lease lost"
        name = attachment_storage_name(
            attachment.note.record.account_id, attachment.key, attachment.file_name
        )
        if default_storage.exists(name):  # left by a worker killed between writing and committing
            default_storage.delete(name)
        current.file.name = default_storage.save(name, ContentFile(fetched.content))
        current.size = len(fetched.content)
        current.sha256 = hashlib.sha256(fetched.content).hexdigest()
        current.content_type = fetched.content_type
        current.state = AttachmentState.STORED
        current.stored_at = timezone.now()
        current.error = ""
        current.lease_until = None
        current.lease_token = ""
        current.save()
        _event(attachment, EventType.ATTACHMENT_STORED)
    return AttachmentState.STORED


def _event(attachment: Attachment, event: EventType) -> None:
    """What a settled download tells, in its transaction: its webhook event, and the vendor
    counters when its record's day is counted already."""
    record = attachment.note.record
    emit(record.account_id, [event], record_id=record.pk, attachment_id=attachment.pk)
    attachment_settled(attachment, stored=event == EventType.ATTACHMENT_STORED)


def _failed_attempt(attachment: Attachment, token: str, exc: FetchError) -> str:
    now = timezone.now()
    reason = str(exc)[:1000]
    mine = Attachment.objects.filter(
        pk=attachment.pk, lease_token=token, state=AttachmentState.PENDING
    )
    if exc.retry and attachment.attempts < settings.LEADPOST_FETCH_MAX_TRIES:
        later = now + fetch_backoff(attachment.attempts)
        with transaction.atomic():
            if mine.update(error=reason, next_attempt_at=later, lease_until=None, lease_token=""):
                download_attachment.using(run_after=later).enqueue(attachment.pk)
        return AttachmentState.PENDING
    if exc.retry:
        reason = f"gave up after {attachment.attempts} tries: {reason}"
    with transaction.atomic():
        if mine.update(
            state=AttachmentState.FAILED, error=reason, lease_until=None, lease_token=""
        ):
            _event(attachment, EventType.ATTACHMENT_FAILED)
    return AttachmentState.FAILED


def sweep(now: dt.datetime | None = None) -> int:
    """Find pending downloads nobody is working on (a worker died, a task was lost) and nudge them.

    Returns how many were re-enqueued or given up.
    """
    now = now or timezone.now()
    grace = dt.timedelta(seconds=settings.LEADPOST_SWEEP_GRACE_SECONDS)
    stuck = list(
        Attachment.objects.filter(state=AttachmentState.PENDING)
        .filter(
            Q(lease_until__lt=now)  # its worker stopped mid-download
            | Q(lease_until__isnull=True, next_attempt_at__lt=now - grace)  # its task never ran
        )
        .values_list("pk", "attempts", "lease_until")[:500]
    )
    for pk, attempts, lease_until in stuck:
        with transaction.atomic():
            row = Attachment.objects.filter(pk=pk, state=AttachmentState.PENDING)
            if lease_until is not None and attempts >= settings.LEADPOST_FETCH_MAX_TRIES:
                if row.update(
                    state=AttachmentState.FAILED,
                    error=f"gave up after {attempts} tries: the worker stopped during the download",
                    lease_until=None,
                    lease_token="",
                ):
                    attachment = Attachment.objects.select_related("note__record").get(pk=pk)
                    _event(attachment, EventType.ATTACHMENT_FAILED)
                continue
            # Only if nobody claimed it since it was listed: a fresh lease must not be broken.
            if row.filter(lease_until=lease_until).update(
                lease_until=None, lease_token="", next_attempt_at=now
            ):
                download_attachment.enqueue(pk)
    if stuck:
        logger.info("sweep: nudged %d stuck attachment download(s)", len(stuck))
    return len(stuck)
