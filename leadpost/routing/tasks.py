"""E-mailing an agent the lead just assigned to them (SPEC §12), however it got its agent: named
in the post, routed, set by a Sales Workflow or changed on a page. The Sales Workflows' "e-mail
the agent" action is this same send.

Each send is an `AgentNotification` row, made in the transaction that assigned the agent; a
failed send is retried with back-off and its state and last error are on the record's page.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.tasks import task
from django.urls import reverse
from django.utils import timezone

from leadpost.intake.models import LeadPostUrl
from leadpost.lib import fastsql
from leadpost.lib.ssn import mask_ssn_text
from leadpost.lib.tokens import TOKEN_CHARS, hash_token
from leadpost.records.models import Record
from leadpost.routing.models import AgentNotification, NotificationState

logger = logging.getLogger(__name__)

# Longer than any SMTP conversation takes (the backend's time-out is 30 s).
_CLAIM_SECONDS = 120


def request_notification(record: Record, *, first: bool = False) -> AgentNotification | None:
    """Ask for the record's agent to be e-mailed, once per record and agent; call inside the
    transaction that assigned the agent, so the e-mail goes out only if the assignment stands.

    `first`: the caller knows no e-mail of this record was asked for yet (a new record no
    workflow ran on), so the savepoint that catches a second request is not needed."""
    if record.servicing_agent_id is None:
        return None
    # No next attempt yet: new, for the workers' relay (`relay_notifications`), which enqueues
    # its task within a quarter second; a task per post cost the lead endpoint more than the row.
    row = AgentNotification(record=record, agent_id=record.servicing_agent_id)
    if first:
        fastsql.insert(row)
        return row
    try:
        with transaction.atomic():
            fastsql.insert(row)
    except IntegrityError:
        return None  # this agent is already told of this record
    return row


def relay_notifications(limit: int = 200) -> int:
    """Enqueue the e-mails of new notifications (oldest first), run by every worker about four
    times a second; workers racing skip the rows another holds (PostgreSQL) or take turns
    (SQLite). Returns how many."""
    new_rows = AgentNotification.objects.filter(
        state=NotificationState.PENDING, next_attempt_at__isnull=True
    )
    if not new_rows.exists():  # a read: an idle relay takes no write lock (SQLite)
        return 0
    now = timezone.now()
    with transaction.atomic():
        new = list(
            AgentNotification.objects.select_for_update(skip_locked=True)
            .filter(state=NotificationState.PENDING, next_attempt_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        AgentNotification.objects.filter(pk__in=new).update(next_attempt_at=now)
        for pk in new:
            notify_agent.enqueue(pk)
    return len(new)


# Control characters, line and paragraph separators, and format characters (bidirectional
# overrides): a vendor's text shown in an e-mail is one line of plain text, whatever it holds.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})
# A vendor's value is shown up to this long: a 1 MB name makes no 1 MB e-mail.
_VALUE_CHARS = 200
# What `mask_ssn_text` leaves of an SSN (`***-**-6789`): an e-mail shows not even the last four.
_MASKED_SSN = re.compile(r"\*{3}([- ]?)\*{2}\1[0-9]{4}")
# A Lead Post URL token (`secrets.token_urlsafe(32)`: 43 URL-safe characters) may be in a run
# of such characters: a vendor pasting its URL into a name.
_TOKEN_RUN = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_CHARS},}}")


def _one_line(text: str) -> str:
    """A vendor's (or a user's) value as one line: a name with a line break, a NUL or a bidi
    override must not break (or forge) the e-mail's headers or add a line to its text."""
    shown = "".join(" " if unicodedata.category(ch) in _UNPRINTABLE else ch for ch in text)
    shown = " ".join(shown.split())
    return shown if len(shown) <= _VALUE_CHARS else shown[: _VALUE_CHARS - 1] + "…"


def _without_secrets(text: str, record: Record, token_hashes: set[str]) -> str:
    """`text` with no SSN (not even masked to its last four), no birth date of the lead and no
    Lead Post URL token of the account in it (SPEC §9, §12), wherever the vendor put them."""
    text = _MASKED_SSN.sub("***-**-****", mask_ssn_text(text))
    if record.birth_date is not None:
        born = record.birth_date
        shapes = {
            born.strftime("%m/%d/%Y"),
            f"{born.month}/{born.day}/{born.year}",
            born.isoformat(),
            born.strftime("%m-%d-%Y"),
        }
        # The longest first: "4/15/1980" is inside "04/15/1980".
        for shape in sorted(shapes, key=len, reverse=True):
            text = text.replace(shape, "[birth date removed]")

    def token(match: re.Match[str]) -> str:
        run = match[0]
        for start in range(len(run) - TOKEN_CHARS + 1):
            if hash_token(run[start : start + TOKEN_CHARS]) in token_hashes:
                return "[Lead Post URL token removed]"
        return run

    return _TOKEN_RUN.sub(token, text) if token_hashes else text


def _message(record: Record) -> tuple[str, str]:
    """The subject and text of the e-mail telling the record's agent of it (SPEC §12): who the
    lead is, how to reach them, the vendor and lead source, and the record's page; never the SSN
    or the birth date."""
    agent = record.servicing_agent
    assert agent is not None
    model = "salesrecord" if record.record_type == "sales_record" else "individual"
    phones = [
        f"{label}: {_one_line(number)}"
        for label, number in (
            ("Cell phone", record.cell_phone),
            ("Home phone", record.home_phone),
            ("Business phone", record.business_phone),
        )
        if number
    ]
    vendor = _one_line(record.lead_post_url.label) if record.lead_post_url else "-"
    source = _one_line(record.lead_source.value) if record.lead_source else "-"
    name = _one_line(f"{record.first_name} {record.last_name}") or "(no name)"
    page = reverse(f"staff:records_{model}_change", args=[record.pk])
    opt_out = reverse("staff:my_lead_emails")
    lines = [
        f"{_one_line(agent.first_name) or 'Hello'}, a new lead was assigned to you in "
        f"{_one_line(record.account.name)}:",
        "",
        f"Name: {name}",
        *(phones or ["Phone: -"]),
        f"E-mail: {_one_line(record.email) or '-'}",
        f"State: {_one_line(record.state) or '-'}",
        f"Vendor: {vendor}",
        f"Lead source: {source}",
        "",
        f"The lead's page: {settings.BASE_URL}{page}",
        "",
        "--",
        "You get these e-mails because leads are assigned to you. Turn them off (or on again) on",
        f"your “My lead e-mails” page: {settings.BASE_URL}{opt_out}",
    ]
    hashes = set(
        LeadPostUrl.objects.filter(account_id=record.account_id).values_list(
            "token_hash", flat=True
        )
    )
    subject = _without_secrets(_one_line(f"New lead: {name}"), record, hashes)
    return subject, _without_secrets("\n".join(lines), record, hashes)


def _backoff(attempts: int) -> dt.timedelta:
    base: int = settings.LEADPOST_NOTIFY_BACKOFF_SECONDS
    return dt.timedelta(seconds=base * 2 ** max(0, attempts - 1))


@task()
def notify_agent(notification_id: int) -> str:
    """One attempt at e-mailing an agent; the notification row says what happened."""
    now = timezone.now()
    # Claimed for a while before sending, so a second task for the same row (the sweep nudged it
    # while this one waited in the queue) does not send the e-mail twice.
    claimed = AgentNotification.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        pk=notification_id,
        state=NotificationState.PENDING,
    ).update(next_attempt_at=now + dt.timedelta(seconds=_CLAIM_SECONDS))
    if not claimed:
        return "not claimed"
    notification = AgentNotification.objects.select_related(
        "agent__agent_profile", "record__account", "record__lead_source", "record__lead_post_url"
    ).get(pk=notification_id)
    agent = notification.agent
    if notification.record.servicing_agent_id != agent.pk:
        # Reassigned before this e-mail went out: "assigned to you" would no longer be true.
        AgentNotification.objects.filter(pk=notification.pk).update(
            state=NotificationState.MOVED, error=""
        )
        return NotificationState.MOVED
    profile = getattr(agent, "agent_profile", None)
    if profile is not None and not profile.notify_new_leads:
        AgentNotification.objects.filter(pk=notification.pk).update(
            state=NotificationState.OFF, error=""
        )
        return NotificationState.OFF
    if not agent.email or not agent.is_active:
        AgentNotification.objects.filter(pk=notification.pk).update(
            state=NotificationState.FAILED, error="the agent has no e-mail address or is inactive"
        )
        return NotificationState.FAILED
    record = notification.record
    record.servicing_agent = agent
    subject, body = _message(record)
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[agent.email])
    except Exception as exc:  # SMTP, network, a bad header: each is a failed try, kept on the row
        attempts = notification.attempts + 1
        reason = mask_ssn_text(f"{type(exc).__name__}: {exc}")[:1000]
        logger.warning("agent e-mail for record %s failed: %s", record.pk, reason)
        if attempts < settings.LEADPOST_NOTIFY_MAX_TRIES:
            later = now + _backoff(attempts)
            with transaction.atomic():
                AgentNotification.objects.filter(pk=notification.pk).update(
                    attempts=attempts, error=reason, next_attempt_at=later
                )
                notify_agent.using(run_after=later).enqueue(notification.pk)
            return NotificationState.PENDING
        AgentNotification.objects.filter(pk=notification.pk).update(
            attempts=attempts,
            error=f"gave up after {attempts} tries: {reason}",
            state=NotificationState.FAILED,
        )
        return NotificationState.FAILED
    AgentNotification.objects.filter(pk=notification.pk).update(
        attempts=notification.attempts + 1, state=NotificationState.SENT, sent_at=now, error=""
    )
    return NotificationState.SENT


def sweep_notifications(now: dt.datetime | None = None) -> int:
    """Re-enqueue pending e-mails whose task was lost (a worker died): the row is the truth.
    (New ones are the relay's: `relay_notifications`.)"""
    now = now or timezone.now()
    grace = dt.timedelta(seconds=settings.LEADPOST_SWEEP_GRACE_SECONDS)
    stuck = list(
        AgentNotification.objects.filter(state=NotificationState.PENDING)
        .filter(next_attempt_at__lt=now - grace)
        .values_list("pk", flat=True)[:500]
    )
    for pk in stuck:
        with transaction.atomic():
            if AgentNotification.objects.filter(pk=pk, state=NotificationState.PENDING).update(
                next_attempt_at=now
            ):
                notify_agent.enqueue(pk)
    return len(stuck)
