"""Webhooks delivered by real `leadpost worker` processes (SPEC §12: at least once, none lost).

A worker killed with SIGKILL in the middle of an attempt leaves only its lease on the delivery;
the next worker's sweep must find it and send the event again, with the same id and bytes. And the
issue's done-when path: a post to the real server reaches a receiver signed, and an event posted
while the receiver is down arrives by retry once it is back.
"""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from leadpost.accounts.models import Account
from leadpost.conftest import PostFn
from leadpost.intake.models import LeadPostUrl
from leadpost.records.tests.test_worker_crash import Workers, wait_for, workers
from leadpost.webhooks.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEvent
from leadpost.webhooks.tests.conftest import Answer, Receiver, subscribe

__all__ = ["workers"]  # the records tests' fixture, used here as it is


def only_delivery() -> WebhookDelivery | None:
    return WebhookDelivery.objects.order_by("id").first()


@pytest.mark.django_db(transaction=True)
def test_a_delivery_cut_by_a_killed_worker_is_sent_again_by_the_next(
    post: PostFn, agency: Account, receiver: Receiver, workers: Workers
) -> None:
    subscribe(agency, receiver.url, ["record.created"], receiver=receiver)
    receiver.answer(Answer(hold=True), Answer(200))
    # A short lease (the first worker's, written when it claims): the sweep finds the cut-off
    # attempt seconds after the kill rather than after the default 2 x timeout + 30 s.
    first = workers.start(
        LEADPOST_SWEEP_GRACE_SECONDS="1",
        LEADPOST_WEBHOOK_TIMEOUT="5",
        LEADPOST_WEBHOOK_LEASE_SECONDS="6",
    )
    response = post({"firstName": "John", "lastName": "Doe", "ssn": "123-45-6789"})
    assert response.status_code == 200, response.content

    [held] = receiver.wait_for(1)
    # The first worker is waiting for the answer: staff see the attempt running.
    delivery = only_delivery()
    assert delivery is not None and delivery.state == DeliveryState.PENDING
    [running] = WebhookAttempt.objects.filter(delivery=delivery)
    assert not running.finished and running.status_code is None
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    workers.start(LEADPOST_SWEEP_GRACE_SECONDS="1", LEADPOST_WEBHOOK_TIMEOUT="3")

    def delivered() -> bool:
        now = only_delivery()
        return now is not None and now.state != DeliveryState.PENDING

    wait_for(delivered, "the delivery made by the second worker", workers)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED, workers.output()
    assert delivery.attempts >= 2
    requests = receiver.requests
    assert len(requests) >= 2
    [event] = WebhookEvent.objects.all()
    assert {r.headers["leadpost-event-id"] for r in requests} == {event.public_id}
    assert {r.body for r in requests} == {held.body}
    assert all(r.signature_ok for r in requests)
    assert b"123-45-6789" not in held.body
    cut, *_, last = WebhookAttempt.objects.filter(delivery=delivery).order_by("started_at", "id")
    assert (cut.finished, cut.status_code) == (True, None)
    assert cut.error == "no answer: the worker stopped during the attempt"
    assert (last.status_code, last.finished, last.error) == (200, True, "")


@pytest.mark.django_db(transaction=True)
def test_a_post_to_the_server_reaches_the_receiver_and_a_down_receiver_gets_it_by_retry(
    served: str,
    agency: Account,
    vendor_url: tuple[LeadPostUrl, str],
    receiver: Receiver,
    workers: Workers,
) -> None:
    subscribe(agency, receiver.url, ["record.created"], receiver=receiver)
    workers.start(
        LEADPOST_SWEEP_GRACE_SECONDS="1",
        LEADPOST_WEBHOOK_BACKOFF_SECONDS="1",
        LEADPOST_WEBHOOK_TIMEOUT="2",
    )
    lead_post = f"{served}/leadpost/{vendor_url[1]}"

    started = time.monotonic()
    first = httpx.post(lead_post, data={"firstName": "John", "lastName": "Doe"}, timeout=30)
    assert first.status_code == 200, first.text
    [request] = receiver.wait_for(1)
    print(f"record.created reached the receiver {time.monotonic() - started:.2f} s after the post")
    assert request.signature_ok
    assert request.json["type"] == "record.created"
    assert request.json["data"]["id"] == first.json()["recordId"]
    assert request.headers["leadpost-event-id"] == request.json["id"]

    receiver.stop()
    second = httpx.post(lead_post, data={"firstName": "Jane", "lastName": "Doe"}, timeout=30)
    assert second.status_code == 200, second.text
    record_id = second.json()["recordId"]

    def refused_once() -> bool:
        return WebhookAttempt.objects.filter(
            delivery__event__record_id=record_id, finished=True, status_code=None
        ).exists()

    wait_for(refused_once, "an attempt refused while the receiver is down", workers)
    receiver.start()  # the same port
    _, again = receiver.wait_for(2)
    assert again.signature_ok
    assert again.json["data"]["id"] == record_id
    [event] = WebhookEvent.objects.filter(record_id=record_id)
    assert again.headers["leadpost-event-id"] == event.public_id

    def delivered() -> bool:
        return WebhookDelivery.objects.filter(event=event, state=DeliveryState.DELIVERED).exists()

    wait_for(delivered, "the retried delivery", workers)
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.attempts >= 2
    failed = WebhookAttempt.objects.filter(delivery=delivery, status_code=None).first()
    assert failed is not None and "network error talking to 127.0.0.1" in failed.error
