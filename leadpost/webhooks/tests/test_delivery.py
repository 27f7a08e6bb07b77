"""Delivering one event to a real receiver on 127.0.0.1 (SPEC §12): what the receiver gets, what
each answer does to the delivery, and the retry schedule the task queue holds.

`deliver` is what the worker's `deliver_webhook` task runs; it is called here directly, with a
frozen "now" where the test moves time (the back-off is read from the queued task's run_after,
never waited for).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.core import mail
from django.test import Client, override_settings
from django_tasks_db.models import DBTaskResult

from leadpost.accounts.models import Account, Permission, User
from leadpost.conftest import PostFn
from leadpost.intake.models import LeadPostUrl
from leadpost.webhooks.models import (
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from leadpost.webhooks.tasks import deliver, dispatch
from leadpost.webhooks.tests.conftest import Answer, Receiver, api_record, subscribe

pytestmark = pytest.mark.usefixtures("loopback")

DELIVER_TASK = "leadpost.webhooks.tasks.deliver_webhook"
LOCMEM = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
LEAD = {
    "firstName": "John",
    "lastName": "Doe",
    "ssn": "123-45-6789",
    "email": "john@example.com",
    "homePhone": "515-555-0100",
    "stateAbbrev": "IA",
}


def created_record(post: PostFn, **fields: str) -> int:
    response = post({**LEAD, **fields})
    assert response.status_code == 200, response.content
    return int(response.json()["recordId"])


def delivery_of(record_id: int, type: str = "record.created") -> WebhookDelivery:
    """Dispatch the record's event (what `dispatch_events` does) and return its one delivery."""
    event = WebhookEvent.objects.get(record_id=record_id, type=type)
    dispatch(event.pk)
    return WebhookDelivery.objects.get(event=event)


def queued_retries(delivery: WebhookDelivery) -> list[DBTaskResult]:
    """The deliver_webhook tasks queued for `delivery` with a run_after (newest last)."""
    rows = DBTaskResult.objects.filter(task_path=DELIVER_TASK).order_by("enqueued_at", "run_after")
    return [r for r in rows if r.args_kwargs["args"] == [delivery.pk]]


def attempts(delivery: WebhookDelivery) -> list[WebhookAttempt]:
    return list(WebhookAttempt.objects.filter(delivery=delivery).order_by("started_at", "id"))


def test_a_receiver_gets_the_record_as_the_api_shows_it_signed(
    post: PostFn, client: Client, api_token: str, agency: Account, receiver: Receiver
) -> None:
    subscription = subscribe(agency, receiver.url, receiver=receiver)
    record_id = created_record(post)
    shown = api_record(client, api_token, record_id)
    delivery = delivery_of(record_id)

    assert deliver(delivery.pk) == DeliveryState.DELIVERED

    [request] = receiver.requests
    body = request.json
    assert request.signature_ok
    assert set(body) == {"id", "type", "createdAt", "data"}
    assert body["type"] == "record.created"
    assert body["id"].startswith("evt_")
    assert request.headers["leadpost-event-id"] == body["id"]
    assert request.headers["content-type"] == "application/json"
    assert dt.datetime.fromisoformat(body["createdAt"]).tzinfo is not None
    assert body["data"] == shown
    assert body["data"]["ssn"] == "***-**-6789"
    for clear in (b"123-45-6789", b"123456789", b"123 45 6789"):
        assert clear not in request.body
    # Staff see the delivery and its one attempt.
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status, delivery.error) == (
        DeliveryState.DELIVERED,
        1,
        200,
        "",
    )
    assert delivery.delivered_at is not None and delivery.lease_until is None
    [attempt] = attempts(delivery)
    assert (attempt.status_code, attempt.error, attempt.finished) == (200, "", True)
    assert attempt.response_head == '{"ok":true}'
    assert attempt.duration_ms is not None
    subscription.refresh_from_db()
    assert subscription.last_success_at is not None and subscription.failing_since is None


def test_a_500_is_retried_with_the_same_id_and_bytes_and_a_success_clears_the_failing(
    post: PostFn, agency: Account, receiver: Receiver
) -> None:
    subscription = subscribe(agency, receiver.url, receiver=receiver)
    long_answer = b"Internal error for 123-45-6789\n" + b"x y " * 1250
    receiver.answer(Answer(500, long_answer), Answer(200))
    delivery = delivery_of(created_record(post))

    assert deliver(delivery.pk) == DeliveryState.PENDING
    delivery.refresh_from_db()
    assert (delivery.state, delivery.last_status, delivery.error) == ("pending", 500, "HTTP 500")
    assert delivery.lease_until is None
    [failed] = attempts(delivery)
    assert (failed.status_code, failed.error, failed.finished) == (500, "HTTP 500", True)
    # The first KiB of the answer, with the SSN it echoed masked.
    assert failed.response_head.startswith("Internal error for ***-**-6789\nx y x y")
    assert "123-45-6789" not in failed.response_head
    assert len(failed.response_head) <= 1024
    subscription.refresh_from_db()
    assert subscription.failing_since is not None and subscription.paused_at is None
    [retry] = queued_retries(delivery)[-1:]
    assert retry.run_after == delivery.next_attempt_at

    assert delivery.next_attempt_at is not None
    assert deliver(delivery.pk, now=delivery.next_attempt_at) == DeliveryState.DELIVERED
    first, second = receiver.requests
    assert first.body == second.body  # byte for byte
    assert first.headers["leadpost-event-id"] == second.headers["leadpost-event-id"]
    assert first.signature_ok and second.signature_ok
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.error) == ("delivered", 2, "")
    subscription.refresh_from_db()
    assert subscription.failing_since is None and subscription.last_success_at is not None


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Answer(delay=3), "timed out after 1 s talking to 127.0.0.1"),
        (Answer(drop=True), "network error talking to 127.0.0.1"),
        (Answer(503), "HTTP 503"),
        (Answer(408), "HTTP 408"),
    ],
    ids=["time-out", "dropped", "503", "408"],
)
def test_no_answer_or_a_temporary_one_is_retried(
    post: PostFn, agency: Account, receiver: Receiver, settings: Any, answer: Answer, error: str
) -> None:
    settings.LEADPOST_WEBHOOK_TIMEOUT = 1
    subscribe(agency, receiver.url, receiver=receiver)
    receiver.answer(answer)
    delivery = delivery_of(created_record(post))

    assert deliver(delivery.pk) == DeliveryState.PENDING
    [attempt] = attempts(delivery)
    assert attempt.error.startswith(error), attempt.error
    assert attempt.finished
    assert (attempt.status_code is None) == (answer.status == 200)
    assert len(receiver.requests) == 1  # it was sent; the answer is what failed
    delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.error.startswith(error)
    assert queued_retries(delivery)[-1].run_after == delivery.next_attempt_at


def test_410_fails_and_pauses_the_webhook_and_tells_the_admins(
    post: PostFn,
    agency: Account,
    receiver: Receiver,
    staff_member: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    staff_member(agency, "ada", Permission.MANAGE_URLS, email="ada@agency.example")
    subscription = subscribe(agency, receiver.url, receiver=receiver)
    receiver.answer(Answer(410, b"gone"))
    delivery = delivery_of(created_record(post))
    before = {r.pk for r in queued_retries(delivery)}

    with override_settings(MAILERS=LOCMEM):
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver(delivery.pk) == DeliveryState.FAILED
        assert [m.to for m in mail.outbox] == [["ada@agency.example"]]

    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.last_status == 410
    assert "410 Gone" in delivery.error
    assert {r.pk for r in queued_retries(delivery)} == before  # no retry queued
    subscription.refresh_from_db()
    assert subscription.paused and "410" in subscription.paused_reason
    # The next event waits for the webhook: nothing more is sent to it.
    later = delivery_of(created_record(post, firstName="Jane"))
    assert later.state == DeliveryState.PAUSED
    assert deliver(later.pk) == "not claimed"
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [404, 400, 401, 403, 422])
def test_other_4xx_fail_at_once(
    post: PostFn, agency: Account, receiver: Receiver, status: int
) -> None:
    subscription = subscribe(agency, receiver.url, receiver=receiver)
    receiver.answer(Answer(status, b"no such hook"))
    delivery = delivery_of(created_record(post))
    before = {r.pk for r in queued_retries(delivery)}

    assert deliver(delivery.pk) == DeliveryState.FAILED
    delivery.refresh_from_db()
    assert (delivery.state, delivery.last_status, delivery.error) == (
        "failed",
        status,
        f"HTTP {status}",
    )
    assert delivery.next_attempt_at is not None
    assert {r.pk for r in queued_retries(delivery)} == before
    [attempt] = attempts(delivery)
    assert (attempt.status_code, attempt.response_head) == (status, "no such hook")
    subscription.refresh_from_db()
    assert not subscription.paused and subscription.failing_since is not None


def test_a_redirect_is_not_followed(post: PostFn, agency: Account, receiver: Receiver) -> None:
    elsewhere = Receiver()
    try:
        subscribe(agency, receiver.url, receiver=receiver)
        receiver.answer(Answer(301, b"", {"Location": elsewhere.url}))
        delivery = delivery_of(created_record(post))

        assert deliver(delivery.pk) == DeliveryState.FAILED
        assert elsewhere.requests == []
    finally:
        elsewhere.close()
    delivery.refresh_from_db()
    assert delivery.last_status == 301
    assert "redirects are not followed" in delivery.error
    [attempt] = attempts(delivery)
    assert attempt.status_code == 301


def test_429_waits_as_long_as_retry_after_says_when_longer_than_the_back_off(
    post: PostFn, agency: Account, receiver: Receiver
) -> None:
    subscribe(agency, receiver.url, receiver=receiver)
    receiver.answer(
        Answer(429, headers={"Retry-After": "120"}), Answer(429, headers={"Retry-After": "5"})
    )
    delivery = delivery_of(created_record(post))
    start = delivery.created_at

    assert deliver(delivery.pk, now=start) == DeliveryState.PENDING
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == start + dt.timedelta(seconds=120)
    assert queued_retries(delivery)[-1].run_after == start + dt.timedelta(seconds=120)

    second = start + dt.timedelta(seconds=120)
    assert deliver(delivery.pk, now=second) == DeliveryState.PENDING
    delivery.refresh_from_db()
    # Retry-After 5 is shorter than the second back-off (60 s): the back-off wins.
    assert delivery.next_attempt_at == second + dt.timedelta(seconds=60)


def test_back_off_doubles_to_its_cap_then_gives_up_after_24_hours_and_pauses(
    post: PostFn,
    agency: Account,
    other_agency: Account,
    vendor_url: tuple[LeadPostUrl, str],
    receiver: Receiver,
    staff_member: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.LEADPOST_WEBHOOK_BACKOFF_SECONDS = 30
    settings.LEADPOST_WEBHOOK_BACKOFF_MAX_SECONDS = 300
    staff_member(agency, "ada", Permission.MANAGE_URLS, email="ada@agency.example")
    # Not told: an agent of the account without the permission, a disabled admin, another
    # account's admin.
    User.objects.create(account=agency, username="al", email="al@agency.example")
    staff_member(
        agency, "gone", Permission.MANAGE_URLS, email="gone@agency.example", is_active=False
    )
    staff_member(other_agency, "otto", Permission.MANAGE_URLS, email="otto@other.example")
    token = vendor_url[1]
    # A URL that holds a Lead Post token (and no description): the e-mail must not carry it.
    subscription = subscribe(agency, f"{receiver.url}/leadpost/{token}", receiver=receiver)
    receiver.answer(Answer(500))
    delivery = delivery_of(created_record(post))
    start = delivery.created_at

    now = start
    for wait in [30, 60, 120, 240, 300, 300, 300]:
        assert deliver(delivery.pk, now=now) == DeliveryState.PENDING
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == now + dt.timedelta(seconds=wait)
        assert queued_retries(delivery)[-1].run_after == now + dt.timedelta(seconds=wait)
        now = delivery.next_attempt_at
    subscription.refresh_from_db()
    assert subscription.failing_since == start and not subscription.paused

    # Ten seconds before the window ends: the last try is made at its very end, not given up.
    end = start + dt.timedelta(hours=24)
    assert deliver(delivery.pk, now=end - dt.timedelta(seconds=10)) == DeliveryState.PENDING
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == end

    with override_settings(MAILERS=LOCMEM):
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver(delivery.pk, now=end) == DeliveryState.FAILED
        messages = list(mail.outbox)
    delivery.refresh_from_db()
    assert delivery.state == "failed"
    assert delivery.error == f"gave up after {delivery.attempts} attempts over 24 hours: HTTP 500"
    assert delivery.attempts == 9 == len(receiver.requests)
    assert len({r.body for r in receiver.requests}) == 1
    subscription.refresh_from_db()
    assert subscription.paused and "24 hours" in subscription.paused_reason
    [message] = messages
    assert message.to == ["ada@agency.example"]
    assert "paused" in message.subject
    text = message.subject + message.body
    assert token not in text and token[6:20] not in text
    assert receiver.secret not in text and receiver.secret[6:20] not in text
    assert f"/webhooksubscription/{subscription.pk}/change/" in message.body


def test_a_failure_within_the_day_does_not_pause(
    post: PostFn, agency: Account, receiver: Receiver
) -> None:
    subscription = subscribe(agency, receiver.url, receiver=receiver)
    receiver.answer(Answer(500))
    delivery = delivery_of(created_record(post))
    deliver(delivery.pk, now=delivery.created_at)
    delivery.refresh_from_db()
    assert delivery.next_attempt_at is not None
    deliver(delivery.pk, now=delivery.created_at + dt.timedelta(hours=23, minutes=59))
    subscription.refresh_from_db()
    assert not subscription.paused


def test_a_delivery_is_claimed_once(post: PostFn, agency: Account, receiver: Receiver) -> None:
    """A second task for a delivery already delivered (or not yet due) sends nothing."""
    subscribe(agency, receiver.url, receiver=receiver)
    receiver.answer(Answer(500), Answer(200))
    delivery = delivery_of(created_record(post))
    assert deliver(delivery.pk, now=delivery.created_at) == DeliveryState.PENDING
    # Not due yet: the back-off holds it.
    assert deliver(delivery.pk, now=delivery.created_at + dt.timedelta(seconds=29)) == "not claimed"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at is not None
    assert deliver(delivery.pk, now=delivery.next_attempt_at) == DeliveryState.DELIVERED
    assert deliver(delivery.pk) == "not claimed"
    assert len(receiver.requests) == 2


def test_the_event_body_never_holds_the_clear_ssn_even_in_other_fields(
    post: PostFn, agency: Account, receiver: Receiver
) -> None:
    """A vendor that puts the SSN in a note or a free-text field: the body (SPEC §11's record)
    is what the read API shows, and the SSN field itself is masked."""
    subscribe(agency, receiver.url, receiver=receiver)
    record_id = created_record(post, ssn="987-65-4321")
    delivery = delivery_of(record_id)
    deliver(delivery.pk)
    [request] = receiver.requests
    assert b"987-65-4321" not in request.body and b"987654321" not in request.body
    assert json.loads(request.body)["data"]["ssn"] == "***-**-4321"


def test_a_deleted_subscription_takes_its_deliveries_with_it(
    post: PostFn, agency: Account, receiver: Receiver
) -> None:
    subscription = subscribe(agency, receiver.url, receiver=receiver)
    delivery = delivery_of(created_record(post))
    WebhookSubscription.objects.filter(pk=subscription.pk).delete()
    assert deliver(delivery.pk) == "not claimed"
    assert receiver.requests == []


def test_a_hostile_answer_is_kept_as_one_clean_kib(
    post: PostFn, agency: Account, receiver: Receiver, vendor_url: tuple[LeadPostUrl, str]
) -> None:
    """NUL bytes (PostgreSQL's text refuses them), invalid UTF-8, our own Lead Post URL token and
    an SSN echoed back, in a 1 MB answer: staff see its first KiB, as text, without them."""
    token = vendor_url[1]
    hostile = b"\x00\xff\xfe token=" + token.encode() + b" ssn 123-45-6789 " + b"y" * 1_000_000
    subscribe(agency, receiver.url, receiver=receiver)
    receiver.answer(Answer(500, hostile))
    delivery = delivery_of(created_record(post))

    assert deliver(delivery.pk) == DeliveryState.PENDING
    [attempt] = attempts(delivery)
    head = attempt.response_head
    assert "\x00" not in head and token not in head and token[6:20] not in head
    assert "123-45-6789" not in head
    assert head.startswith("\ufffd\ufffd\ufffd token=" + token[:6])
    assert len(head) <= 1024
    # Nothing the receiver got carries the vendor's token either.
    [request] = receiver.requests
    assert token not in request.body.decode() + json.dumps(request.headers)


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [("999999", 3600), ("Wed, 21 Oct 2015 07:28:00 GMT", 30), ("-5", 30), ("", 30)],
)
def test_retry_after_is_bounded_and_read_only_as_seconds(
    post: PostFn, agency: Account, receiver: Receiver, retry_after: str, wait: int
) -> None:
    subscribe(agency, receiver.url, receiver=receiver)
    receiver.answer(Answer(429, headers={"Retry-After": retry_after}))
    delivery = delivery_of(created_record(post))
    start = delivery.created_at
    assert deliver(delivery.pk, now=start) == DeliveryState.PENDING
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == start + dt.timedelta(seconds=wait)


def test_control_characters_and_a_long_note_still_sign_and_parse(
    post: PostFn, client: Client, api_token: str, agency: Account, receiver: Receiver
) -> None:
    subscribe(agency, receiver.url, receiver=receiver)
    long_body = "Line\u2028two\x07 " + "é" * 200_000
    record_id = created_record(
        post,
        firstName="Jo\u202ehn\ttab",
        attachment_note_1_subject_text="Call \x1b[31m now",
        attachment_note_1_body_text=long_body,
    )
    delivery = delivery_of(record_id)
    assert deliver(delivery.pk) == DeliveryState.DELIVERED
    [request] = receiver.requests
    assert request.signature_ok
    assert request.json["data"] == api_record(client, api_token, record_id)


def test_a_secret_that_no_longer_decrypts_is_settled_not_left_running(
    post: PostFn, agency: Account, receiver: Receiver
) -> None:
    """After a key change the secret cannot be read: nothing unsigned is sent, the attempt says
    why, and the delivery is retried within its window and then given up (never for ever)."""
    subscription = subscribe(agency, receiver.url, receiver=receiver)
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        secret_encrypted="gAAAAAB-not-a-fernet-token"
    )
    delivery = delivery_of(created_record(post))
    start = delivery.created_at

    assert deliver(delivery.pk, now=start) == DeliveryState.PENDING
    assert receiver.requests == []
    [attempt] = attempts(delivery)
    assert attempt.finished and attempt.status_code is None
    assert attempt.error == "could not be sent: InvalidToken (see the worker's log)"
    delivery.refresh_from_db()
    assert delivery.lease_until is None and delivery.next_attempt_at == start + dt.timedelta(
        seconds=30
    )
    assert deliver(delivery.pk, now=start + dt.timedelta(hours=24)) == DeliveryState.FAILED
    delivery.refresh_from_db()
    assert delivery.error.startswith("gave up after 2 attempts over 24 hours: could not be sent")
