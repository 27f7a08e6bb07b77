"""Which posts make which events (SPEC §12), written in the transaction of what they report."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django_tasks_db.models import DBTaskResult

from leadpost.accounts.models import Account, User
from leadpost.conftest import PostFn
from leadpost.records.models import Attachment
from leadpost.records.tasks import download
from leadpost.records.tests.test_attachments import FileServer, file_server, note, url_file
from leadpost.routing.models import AgentProfile, PoolMember, RoutingRule
from leadpost.webhooks.events import emit
from leadpost.webhooks.models import (
    TEST_EVENT,
    DeliveryState,
    WebhookDelivery,
    WebhookEvent,
)
from leadpost.webhooks.tasks import deliver, dispatch, relay_events
from leadpost.webhooks.tests.conftest import Receiver, api_record, subscribe

__all__ = ["file_server"]  # the records tests' fixture, used here as it is

pytestmark = pytest.mark.usefixtures("loopback")

DELIVER_TASKS = "leadpost.webhooks.tasks.deliver_webhooks"
LEAD = {"firstName": "John", "lastName": "Doe", "stateAbbrev": "IA", "zip": "52240"}


def events() -> list[tuple[str, int | None]]:
    return [(e.type, e.record_id) for e in WebhookEvent.objects.order_by("id")]


def webhook_tasks() -> list[tuple[str, list[Any]]]:
    """Every queued task of the webhooks (the lead path enqueues none: the relay does)."""
    return [
        (r.task_path, r.args_kwargs["args"])
        for r in DBTaskResult.objects.filter(task_path__startswith="leadpost.webhooks.").order_by(
            "enqueued_at"
        )
    ]


def record_id(response: Any) -> int:
    assert response.status_code == 200, response.content
    return int(response.json()["recordId"])


def sent(receiver: Receiver, event: WebhookEvent) -> dict[str, Any]:
    """Dispatch and deliver `event`; the body the receiver got."""
    for pk in dispatch(event.pk):
        assert deliver(pk) == DeliveryState.DELIVERED
    body: dict[str, Any] = receiver.requests[-1].json
    assert receiver.requests[-1].signature_ok
    assert body["id"] == event.public_id
    return body


def test_a_post_makes_no_event_when_the_account_has_no_webhook(post: PostFn) -> None:
    record_id(post(LEAD))
    assert events() == [] and webhook_tasks() == []


def test_a_post_makes_only_the_types_subscribed(post: PostFn, agency: Account) -> None:
    subscribe(agency, "https://crm.example.com/hook", events=["record.assigned"])
    record_id(post(LEAD))  # no agent: not assigned
    assert events() == [] and webhook_tasks() == []


def test_a_post_makes_record_created_and_the_relay_queues_its_delivery(
    post: PostFn, agency: Account
) -> None:
    hook = subscribe(agency, "https://crm.example.com/hook", events=["record.created"])
    made = record_id(post(LEAD))
    assert events() == [("record.created", made)]
    [event] = WebhookEvent.objects.all()
    assert (event.account_id, event.dispatched, event.body) == (agency.pk, False, "")
    assert webhook_tasks() == []  # the post wrote the event only

    assert relay_events() == 1
    event.refresh_from_db()
    [delivery] = WebhookDelivery.objects.filter(event=event, subscription=hook)
    assert event.dispatched and json.loads(event.body)["data"]["id"] == made
    assert webhook_tasks() == [(DELIVER_TASKS, [[delivery.pk]])]
    assert relay_events() == 0  # once


def test_a_subscription_made_after_a_post_is_seen_by_the_next_post(
    post: PostFn, agency: Account
) -> None:
    """The post's configuration is kept between posts: a new webhook must move it."""
    record_id(post(LEAD))
    subscribe(agency, "https://crm.example.com/hook", events=["record.created"])
    made = record_id(post({**LEAD, "firstName": "Jane"}))
    assert events() == [("record.created", made)]


def test_a_named_agent_makes_record_assigned_with_the_agent(
    post: PostFn, client: Client, api_token: str, agency: Account, alice: User, receiver: Receiver
) -> None:
    subscribe(agency, receiver.url, receiver=receiver)
    made = record_id(
        post({**LEAD, "servicingAgentFirstName": "Alice", "servicingAgentLastName": "Agent"})
    )
    assert events() == [("record.created", made), ("record.assigned", made)]
    assigned = WebhookEvent.objects.get(type="record.assigned")
    body = sent(receiver, assigned)
    assert body["data"]["servicingAgent"] == {
        "id": alice.pk,
        "firstName": "Alice",
        "lastName": "Agent",
    }
    assert body["data"] == api_record(client, api_token, made)


def test_duplicates_dry_runs_and_rejected_posts_make_none(post: PostFn, agency: Account) -> None:
    subscribe(agency, "https://crm.example.com/hook")
    first = record_id(post({**LEAD, "externalID": "dl-1"}))
    before = (events(), webhook_tasks())

    duplicate = post({**LEAD, "externalID": "dl-1"})
    assert duplicate.json()["result"] == "duplicate"
    dry_run = post({**LEAD, "externalID": "dl-2"}, suffix="/test")
    assert dry_run.json()["result"] == "test"
    rejected = post({"email": "nobody@example.com"})
    assert rejected.status_code == 400

    assert (events(), webhook_tasks()) == before
    assert events() == [("record.created", first)]


def test_a_routed_auto_post_makes_created_and_assigned_with_the_routed_agent(
    post: PostFn, client: Client, api_token: str, premium: Account, receiver: Receiver
) -> None:
    ann = User.objects.create(
        account=premium, username="ann", first_name="Ann", last_name="Agent", email="ann@a.example"
    )
    AgentProfile.objects.create(user=ann, licensed_states=["IA"])
    rule = RoutingRule.objects.create(account=premium, name="Iowa", priority=1)
    PoolMember.objects.create(rule=rule, agent=ann, order=0, weight=1)
    subscribe(premium, receiver.url, receiver=receiver)

    made = record_id(post({**LEAD, "servicingAgentFirstName": "Auto"}))

    assert events() == [("record.created", made), ("record.assigned", made)]
    body = sent(receiver, WebhookEvent.objects.get(type="record.assigned"))
    assert body["type"] == "record.assigned"
    assert body["data"]["servicingAgent"]["id"] == ann.pk
    assert body["data"]["recordType"] == "salesRecord"
    assert body["data"]["routing"] == api_record(client, api_token, made)["routing"]
    assert body["data"]["routing"]


def test_an_attachment_download_makes_stored_and_a_404_failed(
    post: PostFn,
    client: Client,
    api_token: str,
    agency: Account,
    receiver: Receiver,
    file_server: FileServer,
    settings: Any,
) -> None:
    settings.LEADPOST_FETCH_BACKOFF_SECONDS = 0
    file_server.files["/quote.pdf"] = b"%PDF-1.4\nquote\n%%EOF\n"
    subscribe(agency, receiver.url, ["attachment.stored", "attachment.failed"], receiver=receiver)
    made = record_id(
        post(
            {
                **LEAD,
                **note(1, "Quote"),
                **url_file(1, 1, "quote.pdf", file_server.url("/quote.pdf")),
                **url_file(1, 2, "gone.pdf", file_server.url("/gone.pdf")),
            }
        )
    )
    assert events() == []  # nothing subscribed happened yet
    stored, missing = Attachment.objects.order_by("id")

    assert download(stored.pk) == "stored"
    assert download(missing.pk) == "failed"

    assert events() == [("attachment.stored", made), ("attachment.failed", made)]
    shown = api_record(client, api_token, made)
    good = sent(receiver, WebhookEvent.objects.get(type="attachment.stored"))
    bad = sent(receiver, WebhookEvent.objects.get(type="attachment.failed"))
    assert good["attachment"] == shown["notes"][0]["attachments"][0]
    assert good["attachment"]["state"] == "stored" and good["attachment"]["fileName"] == "quote.pdf"
    assert bad["attachment"] == shown["notes"][0]["attachments"][1]
    assert bad["attachment"]["state"] == "failed" and "404" in bad["attachment"]["error"]
    assert good["data"]["id"] == bad["data"]["id"] == made
    assert set(good) == {"id", "type", "createdAt", "data", "attachment"}


@pytest.mark.django_db(transaction=True)
def test_an_event_is_refused_outside_a_transaction(agency: Account) -> None:
    subscribe(agency, "https://crm.example.com/hook")
    with pytest.raises(RuntimeError, match="transaction"):
        emit(agency.pk, ["record.created"])
    assert events() == [] and webhook_tasks() == []


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_leaves_no_event_and_no_task(agency: Account) -> None:
    subscribe(agency, "https://crm.example.com/hook")

    class Undone(Exception):
        pass

    with pytest.raises(Undone), transaction.atomic():
        assert len(emit(agency.pk, ["record.created"])) == 1
        raise Undone
    assert events() == [] and webhook_tasks() == []
    with transaction.atomic():
        emit(agency.pk, ["record.created"])
    assert len(events()) == 1 and relay_events() == 1


def test_another_accounts_webhook_never_gets_this_accounts_events(
    post: PostFn, agency: Account, other_agency: Account, receiver: Receiver
) -> None:
    theirs = subscribe(other_agency, receiver.url, receiver=receiver)
    made = record_id(post(LEAD))
    assert events() == []  # this account subscribes to nothing
    ours = subscribe(agency, "https://crm.example.com/hook", events=["record.created"])
    record_id(post({**LEAD, "firstName": "Jane"}))
    [event] = WebhookEvent.objects.all()
    dispatch(event.pk)
    assert [d.subscription_id for d in WebhookDelivery.objects.all()] == [ours.pk]
    # Even an event naming the other account's webhook as its only receiver (a test event).
    with transaction.atomic():
        forged = WebhookEvent.objects.create(
            account=agency, type=TEST_EVENT, record_id=made, only_to=theirs
        )
    assert dispatch(forged.pk) == []
    assert not WebhookDelivery.objects.filter(subscription=theirs).exists()
    assert receiver.requests == []


def test_a_test_event_goes_to_its_one_webhook(agency: Account, receiver: Receiver) -> None:
    mine = subscribe(agency, receiver.url, events=[], receiver=receiver)
    subscribe(agency, "https://crm.example.com/hook")
    event = WebhookEvent.objects.create(account=agency, type=TEST_EVENT, only_to=mine)
    body = sent(receiver, event)
    assert body["type"] == "test" and body["data"]["webhook"] == mine.pk
    assert len(receiver.requests) == 1
    assert json.loads(receiver.requests[0].body)["id"] == event.public_id
