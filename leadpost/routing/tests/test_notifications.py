"""The agent's e-mail (SPEC §12), through a real SMTP server and Django's test outbox.

What it holds: who the lead is, how to reach them, the vendor and lead source, the record's page
and the page that turns these e-mails off; never the SSN (not even its last four), the birth date
or a Lead Post URL token, wherever a vendor put them. A lead's name is the vendor's text: a line
break or a NUL in it must not break the e-mail or forge a header. A failed send is retried with
back-off and visible on the record's page; one whose task was lost is found by the worker's sweep.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.core import mail
from django.core.mail import send_mail
from django.test import Client, override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from leadpost.accounts.models import Account, Permission, User
from leadpost.intake.actions import Client as Vendor
from leadpost.intake.actions import receive_lead
from leadpost.intake.lead import DecodedForm
from leadpost.intake.models import LeadPostUrl
from leadpost.intake.views import answer
from leadpost.records.models import Record
from leadpost.records.tests.test_attachments import run_worker
from leadpost.routing.models import (
    ActionKind,
    AgentNotification,
    NotificationState,
    PoolMember,
    RoutingRule,
    SalesWorkflow,
    WorkflowAction,
)
from leadpost.routing.tasks import (
    _message,
    notify_agent,
    relay_notifications,
    sweep_notifications,
)


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.recipients.append(list(envelope.rcpt_tos))
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[arg-type]
        )
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _smtp(port: int) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "use_tls": False, "timeout": 5},
        }
    }


@pytest.fixture
def inbox() -> Iterator[_Inbox]:
    handler = _Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        with override_settings(MAILERS=_smtp(controller.port)):
            yield handler
    finally:
        controller.stop()


@pytest.fixture
def routed(premium: Account, ann: User) -> Account:
    """A premium Sales Record agency whose one rule gives Iowa's "Auto" leads to Ann: the post
    itself asks for her e-mail (no workflow needed)."""
    rule = RoutingRule.objects.create(account=premium, name="Iowa")
    PoolMember.objects.create(rule=rule, agent=ann)
    return premium


SSN = "123-45-6789"
BORN = "04/15/1980"


def _post(vendor_url: tuple[LeadPostUrl, str], **params: str) -> Record:
    outcome = answer(
        receive_lead(
            vendor_url[0],
            DecodedForm(
                params={
                    "servicingAgentFirstName": "Auto",
                    "stateAbbrev": "IA",
                    "cellPhone": "319-555-0101",
                    "birthDate": BORN,
                    "ssn": SSN,
                    **params,
                },
                warnings=[],
            ),
            received_at=timezone.now(),
            client=Vendor(ip="203.0.113.9", user_agent="test"),
        )
    )
    assert outcome.status == 200, outcome.body
    return Record.objects.get(pk=outcome.body["recordId"])


def _secrets_in(text: str, token: str) -> list[str]:
    """What of the lead's SSN, birth date or URL token `text` shows."""
    shown = [part for part in ("6789", "123-45", "123456789", "1980", "04/15") if part in text]
    return shown + (["the token"] if token in text or token[:12] in text else [])


def send_now(record: Record) -> None:
    """Run the one e-mail task the post queued for its agent (as a worker would)."""
    notification = AgentNotification.objects.get(record=record)
    assert notify_agent.call(notification.pk) == NotificationState.SENT


def test_the_email_says_who_how_to_reach_them_vendor_source_and_links_through_smtp(
    vendor_url, routed, inbox
):
    record = _post(
        vendor_url,
        firstName="Lee\r\nBcc: everyone@example.com",
        lastName="Dee\nX",
        email="lee.dee@example.com",
        homePhone="319-555-0199",
        leadSource="Google Ads",
    )
    notification = AgentNotification.objects.get(record=record)
    assert notify_agent.call(notification.pk) == NotificationState.SENT
    assert inbox.recipients == [["ann@agency.example"]]
    message = inbox.messages[0]
    assert message["Subject"] == "New lead: Lee Bcc: everyone@example.com Dee X"
    assert message["Bcc"] is None and message["To"] == "ann@agency.example"
    text = message.get_content()
    lines = text.splitlines()
    assert lines[0] == "Ann, a new lead was assigned to you in Hawkeye Insurance:"
    for line in (
        "Name: Lee Bcc: everyone@example.com Dee X",  # the line break cannot start a line
        "Cell phone: (319) 555-0101",
        "Home phone: (319) 555-0199",
        "E-mail: lee.dee@example.com",
        "State: IA",
        "Vendor: Datalot",
        "Lead source: Google Ads",
        f"The lead's page: {settings.BASE_URL}/staff/records/salesrecord/{record.pk}/change/",
        f"your “My lead e-mails” page: {settings.BASE_URL}/staff/my-lead-emails/",
    ):
        assert line in lines, (line, text)
    assert not [line for line in lines if line.startswith(("Bcc", "X"))]
    # Never the SSN or the birth date (SPEC §12), nor the URL's token.
    assert _secrets_in(text + message["Subject"], vendor_url[1]) == []
    notification.refresh_from_db()
    assert (notification.state, notification.attempts, notification.error) == ("sent", 1, "")


def test_no_ssn_birth_date_or_token_wherever_the_vendor_put_them(vendor_url, routed, mailoutbox):
    url, token = vendor_url
    # A careless integration: the SSN, nine digits, the birth date and the URL itself in names
    # and notes; a staff user pasted the token into the vendor's label too.
    LeadPostUrl.objects.filter(pk=url.pk).update(label=f"Datalot {token}")
    record = _post(
        vendor_url,
        firstName=f"Lee {SSN}",
        lastName=f"Dee 123456789 born {BORN} {LeadPostUrl.full_url(token)}",
        attachment_note_1_subject_text=f"SSN {SSN}",
        attachment_note_1_body_text=f"born {BORN}, ssn {SSN}",
    )
    send_now(record)
    [message] = mailoutbox
    text = message.subject + "\n" + message.body
    assert _secrets_in(text, token) == [], text
    assert "Name: Lee ***-**-**** Dee ***-**-**** born [birth date removed]" in message.body
    assert "[Lead Post URL token removed]" in message.body
    assert "Vendor: Datalot [Lead Post URL token removed]" in message.body
    assert "\n" not in message.subject and "\r" not in message.subject


def test_a_nul_or_line_break_in_any_name_still_sends_one_clean_message(vendor_url, routed, inbox):
    record = _post(vendor_url, firstName="Lee", lastName="Dee")
    # What a vendor's bytes may hold before the form decoder replaces controls, and a user's
    # name typed with a line break: the e-mail is built from whatever the rows hold.
    record.first_name = "Lee\x00\r\nBcc: evil@example.com\u2028To: evil@example.com"
    record.last_name = "Dee\x00\x1b[31m\u202e"
    assert record.servicing_agent is not None
    record.servicing_agent.first_name = "Ann\r\nSubject: forged"
    subject, body = _message(record)
    assert subject == "New lead: Lee Bcc: evil@example.com To: evil@example.com Dee [31m"
    assert not [ch for ch in subject + body if ch in "\x00\r\x1b\u2028\u202e"]
    assert body.splitlines()[0].startswith("Ann Subject: forged, a new lead")
    send_mail(subject, body, None, ["ann@agency.example"])
    [message] = inbox.messages
    assert inbox.recipients == [["ann@agency.example"]]
    assert message["Bcc"] is None and message["To"] == "ann@agency.example"
    assert message["Subject"] == subject


def test_a_nul_posted_in_a_name_is_replaced_and_the_email_sent(post, routed, mailoutbox):
    response = post(
        {"firstName": "Lee\x00\r\nBcc: evil@example.com", "lastName": "Dee", "stateAbbrev": "IA"}
        | {"servicingAgentFirstName": "Auto"}
    )
    assert response.status_code == 200, response.content
    record = Record.objects.get(pk=response.json()["recordId"])
    send_now(record)
    [message] = mailoutbox
    assert message.subject == "New lead: Lee\ufffd Bcc: evil@example.com Dee"
    assert message.to == ["ann@agency.example"] and message.bcc == []
    assert "\x00" not in message.body


def test_a_megabyte_name_makes_a_short_email(vendor_url, routed, mailoutbox):
    record = _post(vendor_url, firstName="A" * 1_000_000, lastName="Dee")
    send_now(record)
    [message] = mailoutbox
    assert len(message.subject) <= 220 and message.subject.endswith("…")
    assert len(message.body) < 3000


@override_settings(
    MAILERS=_smtp(_free_port()), LEADPOST_NOTIFY_MAX_TRIES=3, LEADPOST_NOTIFY_BACKOFF_SECONDS=60
)
def test_a_failed_send_is_retried_with_back_off_then_failed_and_shown_on_the_record(
    vendor_url, routed, staff_member
):
    # Nothing listens on the mailer's port: every try is refused.
    record = _post(vendor_url, firstName="Lee", lastName="Dee")
    notification = AgentNotification.objects.get(record=record)
    page = Client()
    page.force_login(staff_member(routed, "boss", Permission.SALES_ENABLEMENT))
    record_page = f"/staff/records/salesrecord/{record.pk}/change/"
    assert "Ann Agent — waiting to be sent" in page.get(record_page).content.decode()

    def one_try(expected: str) -> AgentNotification:
        # The retry's time comes (the queue's scheduled time, not a sleep).
        AgentNotification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())
        assert notify_agent.call(notification.pk) == expected
        notification.refresh_from_db()
        return notification

    for attempt, wait in ((1, 60), (2, 120)):  # back-off doubles
        before = timezone.now()
        row = one_try(NotificationState.PENDING)
        after = timezone.now()
        assert row.attempts == attempt and "ConnectionRefused" in row.error
        assert row.next_attempt_at is not None
        later = row.next_attempt_at
        assert before + dt.timedelta(seconds=wait) <= later <= after + dt.timedelta(seconds=wait)
        retries = DBTaskResult.objects.filter(
            task_path="leadpost.routing.tasks.notify_agent", run_after=later
        )
        assert retries.count() == 1  # the next try is queued for that time
        html = page.get(record_page).content.decode()
        tries = "1 try" if attempt == 1 else "2 tries"
        assert f"Ann Agent — not sent yet, will retry: {tries} failed, next try at" in html
        assert later.isoformat(timespec="seconds") in html and "ConnectionRefused" in html
    row = one_try(NotificationState.FAILED)
    assert row.state == "failed" and row.error.startswith("gave up after 3 tries")
    html = page.get(record_page).content.decode()
    assert "Ann Agent — failed: gave up after 3 tries" in html


def test_an_email_is_sent_once_per_record_and_agent(vendor_url, routed, inbox):
    from leadpost.routing.tasks import request_notification

    record = _post(vendor_url, firstName="Lee", lastName="Dee")
    assert request_notification(record) is None  # already asked for by the post
    notification = AgentNotification.objects.get(record=record)
    assert notify_agent.call(notification.pk) == NotificationState.SENT
    assert notify_agent.call(notification.pk) == "not claimed"
    assert len(inbox.messages) == 1


def test_the_workflows_email_action_is_the_same_send(vendor_url, routed, mailoutbox):
    workflow = SalesWorkflow.objects.create(account=routed, name="Tell the agent")
    WorkflowAction.objects.create(workflow=workflow, order=1, kind=ActionKind.NOTIFY_AGENT)
    record = _post(vendor_url, firstName="Lee", lastName="Dee")
    send_now(record)
    assert [m.to for m in mailoutbox] == [["ann@agency.example"]]
    assert AgentNotification.objects.filter(record=record).count() == 1


def test_the_relay_queues_a_new_notification_once_and_the_sweep_one_whose_task_was_lost(
    vendor_url, routed, inbox
):
    record = _post(vendor_url, firstName="Lee", lastName="Dee")
    notification = AgentNotification.objects.get(record=record)
    queued = DBTaskResult.objects.filter(task_path="leadpost.routing.tasks.notify_agent")
    assert not queued.exists()  # the post wrote the row only
    assert relay_notifications() == 1
    assert [r.args_kwargs["args"] for r in queued] == [[notification.pk]]
    assert relay_notifications() == 0
    queued.delete()  # the worker that took it died with it
    later = timezone.now() + timezone.timedelta(hours=1)
    assert sweep_notifications(now=later) == 1
    assert DBTaskResult.objects.filter(task_path="leadpost.routing.tasks.notify_agent").count() == 1
    AgentNotification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())
    assert notify_agent.call(notification.pk) == NotificationState.SENT


@pytest.mark.django_db(transaction=True)
def test_a_worker_started_after_a_crash_sends_the_email_whose_task_was_lost(
    vendor_url, routed, mailoutbox
):
    record = _post(vendor_url, firstName="Lee", lastName="Dee")
    # The worker that took the task died with it, longer ago than the sweep's grace.
    DBTaskResult.objects.filter(task_path="leadpost.routing.tasks.notify_agent").delete()
    gone = timezone.now() - dt.timedelta(seconds=settings.LEADPOST_SWEEP_GRACE_SECONDS + 1)
    AgentNotification.objects.filter(record=record).update(next_attempt_at=gone)
    run_worker()  # its first sweep finds the row, and the batch sends it
    assert [m.to for m in mail.outbox] == [["ann@agency.example"]]
    assert AgentNotification.objects.get(record=record).state == NotificationState.SENT
