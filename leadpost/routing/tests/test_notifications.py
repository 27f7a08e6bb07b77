"""The agent's e-mail (a Sales Workflow's "e-mail the assigned agent"), through a real SMTP server.

A lead's name is the vendor's text: a line break in it must not break the e-mail, and a failed send
must be retried and visible, never lost without a word.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.test import Client, override_settings
from django.utils import timezone

from leadpost.accounts.models import Account, Permission, User
from leadpost.intake.actions import Client as Vendor
from leadpost.intake.actions import receive_lead
from leadpost.intake.lead import DecodedForm
from leadpost.intake.views import answer
from leadpost.lib.choices import RecordType
from leadpost.records.models import Record
from leadpost.routing.models import (
    ActionKind,
    AgentNotification,
    AgentProfile,
    NotificationState,
    PoolMember,
    RoutingRule,
    SalesWorkflow,
    WorkflowAction,
)
from leadpost.routing.tasks import notify_agent, sweep_notifications


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
def ann(agency: Account) -> User:
    agency.record_mode = RecordType.SALES_RECORD
    agency.premium_workflows = True
    agency.save()
    user = User.objects.create(
        account=agency,
        username="ann",
        first_name="Ann",
        last_name="Agent",
        email="ann@agency.example",
    )
    AgentProfile.objects.create(user=user, licensed_states=["IA"])
    rule = RoutingRule.objects.create(account=agency, name="Iowa")
    PoolMember.objects.create(rule=rule, agent=user)
    workflow = SalesWorkflow.objects.create(account=agency, name="Tell the agent")
    WorkflowAction.objects.create(workflow=workflow, order=1, kind=ActionKind.NOTIFY_AGENT)
    return user


def _post(vendor_url, **params: str) -> Record:
    outcome = answer(
        receive_lead(
            vendor_url[0],
            DecodedForm(
                params={
                    "servicingAgentFirstName": "Auto",
                    "stateAbbrev": "IA",
                    "cellPhone": "319-555-0101",
                    "birthDate": "04/15/1980",
                    "ssn": "123-45-6789",
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


def test_a_name_with_a_line_break_cannot_break_the_email(vendor_url, ann, inbox):
    record = _post(vendor_url, firstName="Lee\r\nBcc: everyone@example.com", lastName="Dee\nX")
    notification = AgentNotification.objects.get(record=record)
    assert notify_agent.call(notification.pk) == NotificationState.SENT
    assert inbox.recipients == [["ann@agency.example"]]
    message = inbox.messages[0]
    assert message["Subject"] == "New lead: Lee Bcc: everyone@example.com Dee X"
    assert message["Bcc"] is None
    text = message.get_content()
    assert "(319) 555-0101" in text and f"/staff/records/salesrecord/{record.pk}/change/" in text
    # Never the SSN or the birth date (SPEC §12).
    assert "6789" not in text and "1980" not in text
    notification.refresh_from_db()
    assert (notification.state, notification.attempts, notification.error) == ("sent", 1, "")


@override_settings(MAILERS=_smtp(_free_port()), LEADPOST_NOTIFY_MAX_TRIES=2)
def test_a_failed_send_is_retried_then_failed_and_shown_on_the_record(
    vendor_url, ann, agency, staff_member
):
    from django_tasks_db.models import DBTaskResult

    record = _post(vendor_url, firstName="Lee", lastName="Dee")
    notification = AgentNotification.objects.get(record=record)
    assert notify_agent.call(notification.pk) == NotificationState.PENDING
    notification.refresh_from_db()
    assert notification.attempts == 1 and "ConnectionRefused" in notification.error
    assert (
        notification.next_attempt_at is not None and notification.next_attempt_at > timezone.now()
    )
    retry = DBTaskResult.objects.filter(
        task_path="leadpost.routing.tasks.notify_agent",
        run_after__gt=timezone.now(),
        run_after__year__lt=9999,  # django-tasks-db's "whenever" (no run_after) is year 9999
    )
    assert retry.count() == 1  # the next try is queued for later
    # The retry's time comes: tried again, and given up after the last try.
    AgentNotification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())
    assert notify_agent.call(notification.pk) == NotificationState.FAILED
    notification.refresh_from_db()
    assert notification.state == "failed" and notification.error.startswith("gave up after 2 tries")
    manager = staff_member(agency, "boss", Permission.SALES_ENABLEMENT)
    page = Client()
    page.force_login(manager)
    html = page.get(f"/staff/records/salesrecord/{record.pk}/change/").content.decode()
    assert "Ann Agent" in html and "failed" in html and "gave up after 2 tries" in html


def test_an_email_is_sent_once_per_record_and_agent(vendor_url, ann, inbox):
    from leadpost.routing.tasks import request_notification

    record = _post(vendor_url, firstName="Lee", lastName="Dee")
    assert request_notification(record) is None  # already asked for by the workflow
    notification = AgentNotification.objects.get(record=record)
    assert notify_agent.call(notification.pk) == NotificationState.SENT
    assert notify_agent.call(notification.pk) == "not claimed"
    assert len(inbox.messages) == 1


def test_the_sweep_finds_a_notification_whose_task_was_lost(vendor_url, ann, inbox):
    from django_tasks_db.models import DBTaskResult

    record = _post(vendor_url, firstName="Lee", lastName="Dee")
    DBTaskResult.objects.filter(task_path="leadpost.routing.tasks.notify_agent").delete()
    notification = AgentNotification.objects.get(record=record)
    later = timezone.now() + timezone.timedelta(hours=1)
    assert sweep_notifications(now=later) == 1
    assert DBTaskResult.objects.filter(task_path="leadpost.routing.tasks.notify_agent").count() == 1
    AgentNotification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())
    assert notify_agent.call(notification.pk) == NotificationState.SENT
