"""Two agencies with one row of every kind the staff pages show, for tenancy tests.

Our agency ("Hawkeye Insurance") and another ("Cornbelt Mutual") each hold a record of each kind,
a value list entry, a custom field, a Lead Post URL, posts in the log, users and security groups, an
agent profile, a Lead Routing Rule, a Sales Workflow and a webhook with deliveries. Everything of ours carries the word "Quill"
(or is Alice, Datalot, Hawkeye) and everything of theirs "Otter" (or Otto, Cornbelt), so a page can
be searched for the other agency's rows.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import urlencode

from django.test import Client

from leadpost.accounts.models import Account, SecurityGroup, User
from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.records.models import (
    Attachment,
    CustomField,
    FieldType,
    ListName,
    ListValue,
    RecordType,
)
from leadpost.routing.models import AgentProfile, PoolMember, RoutingRule, SalesWorkflow
from leadpost.webhooks import tasks as webhook_tasks
from leadpost.webhooks.actions import create_subscription
from leadpost.webhooks.models import EventType, WebhookDelivery, WebhookEvent

FORM = "application/x-www-form-urlencoded"
# What of ours may never show on a page of the other agency, and the other way round.
OUR_MARKERS = ("quill", "Hawkeye", "Datalot", "Alice")
THEIR_MARKERS = ("otter", "Cornbelt", "Otto")
DOES_NOT_EXIST = "doesn’t exist"


@dataclass
class Agency:
    """One agency's rows, as ids, for building URLs."""

    account: Account
    individual: int
    sales_record: int
    attachment: int
    sales_attachment: int
    list_value: int
    custom_field: int
    url: int
    post_log: int
    user: int
    group: int
    agent_profile: int
    rule: int
    workflow: int
    webhook: int
    delivery: int


def _post(client: Client, token: str, data: dict[str, str]) -> int:
    response = client.post(f"/leadpost/{token}", urlencode(data), content_type=FORM)
    assert response.status_code == 200, response.content
    return int(response.json()["recordId"])


def _with_file(data: dict[str, str], file_name: str) -> dict[str, str]:
    return {
        **data,
        "attachment_note_1_subject_text": f"Call notes {file_name}",
        "attachment_note_1_body_text": "Wants a quote.",
        "attach_file_to_note_1": "1",
        "attachment_note_1_file_name_1": file_name,
        "attachment_note_1_file_body_1": base64.b64encode(b"scanned form").decode(),
    }


def build(
    account: Account,
    token: str,
    url: LeadPostUrl,
    *,
    word: str,
    agent: User,
    group: SecurityGroup,
) -> Agency:
    """An Individual and a Sales Record posted to `token`, each with a file, and the rest."""
    client = Client()
    # Subscribed before the posts, so that they make events (and the webhook has deliveries).
    webhook, _ = create_subscription(
        account,
        url=f"https://{word.lower()}-crm.example/hooks/leadpost",
        events=[EventType.RECORD_CREATED, EventType.RECORD_ASSIGNED],
        description=f"{word} CRM",
    )
    CustomField.objects.create(
        account=account,
        entity_type=RecordType.INDIVIDUAL,
        name=f"{word} Value",
        field_type=FieldType.TEXT_FIELD,
    )
    individual = _post(
        client,
        token,
        _with_file(
            {
                "firstName": "Iris",
                "lastName": f"{word}feather",
                "status": f"Hot {word} Lead",
                "leadSource": f"{word} Source",
                "servicingAgentFirstName": agent.first_name,
                "servicingAgentLastName": agent.last_name,
                f"custom_{word} Value": "blue",
            },
            f"{word.lower()}-individual.txt",
        ),
    )
    account.record_mode = RecordType.SALES_RECORD
    account.save()
    sales_record = _post(
        client,
        token,
        _with_file(
            {"firstName": "Sally", "lastName": f"{word}feather Sales"},
            f"{word.lower()}-sales.txt",
        ),
    )
    account.record_mode = RecordType.INDIVIDUAL
    account.save()
    profile = AgentProfile.objects.create(user=agent, licensed_states=["IA"])
    rule = RoutingRule.objects.create(account=account, name=f"{word} Iowa", states=["IA"])
    PoolMember.objects.create(rule=rule, agent=agent)
    workflow = SalesWorkflow.objects.create(account=account, name=f"{word} Flow")
    for event in WebhookEvent.objects.filter(account=account).order_by("pk"):
        webhook_tasks.dispatch(event.pk)
    return Agency(
        account=account,
        individual=individual,
        sales_record=sales_record,
        attachment=Attachment.objects.get(note__record_id=individual).pk,
        sales_attachment=Attachment.objects.get(note__record_id=sales_record).pk,
        list_value=ListValue.objects.get(account=account, list_name=ListName.STATUS).pk,
        custom_field=CustomField.objects.get(account=account).pk,
        url=url.pk,
        post_log=PostLog.objects.filter(record_id=individual).get().pk,
        user=agent.pk,
        group=group.pk,
        agent_profile=profile.pk,
        rule=rule.pk,
        workflow=workflow.pk,
        webhook=webhook.pk,
        delivery=WebhookDelivery.objects.filter(subscription=webhook).order_by("pk")[0].pk,
    )
