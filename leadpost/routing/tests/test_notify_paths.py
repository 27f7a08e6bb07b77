"""Every way a record gets an agent e-mails that agent, once per record and agent (SPEC §12).

Named in the post (Individual and Sales Record mode), routed by "Auto", set by a Sales Workflow's
route action, changed on the record's page; the workflow's own "e-mail the agent" is the same
send. Each test posts as a vendor would, runs the real worker (`leadpost worker --batch`) and
reads Django's test outbox: what the agent's mailbox would hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from leadpost.accounts.models import Account, Permission, User
from leadpost.conftest import PostFn
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

# The worker commits and closes its connection as in production: the tests' data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

LEAD = {"firstName": "Lee", "lastName": "Dee", "stateAbbrev": "IA", "cellPhone": "319-555-0101"}
ANN = {"servicingAgentFirstName": "Ann", "servicingAgentLastName": "Agent"}


def created(response: Any) -> Record:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["result"] == "created", body
    return Record.objects.get(pk=body["recordId"])


def mailed() -> list[tuple[str, str]]:
    """Who got which e-mail: (recipient, subject), in order."""
    return [(to, message.subject) for message in mail.outbox for to in message.to]


def notifications(record: Record) -> list[tuple[str, str]]:
    return [
        (n.agent.username, n.state)
        for n in AgentNotification.objects.filter(record=record).select_related("agent")
    ]


def rule_for(account: Account, *agents: User) -> RoutingRule:
    made = RoutingRule.objects.create(account=account, name="Iowa", states=["IA"])
    for i, agent in enumerate(agents):
        PoolMember.objects.create(rule=made, agent=agent, order=i)
    return made


def workflow(account: Account, *kinds: ActionKind) -> SalesWorkflow:
    made = SalesWorkflow.objects.create(account=account, name="New leads")
    for i, kind in enumerate(kinds):
        WorkflowAction.objects.create(workflow=made, order=i, kind=kind)
    return made


def test_an_agent_named_in_an_individual_post_is_emailed_once(post: PostFn, agency, ann):
    assert agency.record_mode == "individual"
    record = created(post({**LEAD, **ANN}))
    assert record.record_type == "individual" and record.servicing_agent == ann
    run_worker()
    assert mailed() == [("ann@agency.example", "New lead: Lee Dee")]
    assert notifications(record) == [("ann", NotificationState.SENT)]
    run_worker()  # nothing left to send: still one
    assert len(mail.outbox) == 1


def test_an_agent_named_in_a_sales_record_post_is_emailed_once(post: PostFn, agency, ann):
    agency.record_mode = "sales_record"
    agency.save()
    record = created(post({**LEAD, **ANN}))
    assert record.record_type == "sales_record" and record.servicing_agent == ann
    run_worker()
    assert mailed() == [("ann@agency.example", "New lead: Lee Dee")]
    assert notifications(record) == [("ann", NotificationState.SENT)]
    assert f"/staff/records/salesrecord/{record.pk}/change/" in mail.outbox[0].body


def test_a_routed_auto_post_emails_the_agent_routing_chose(post: PostFn, premium, ann, ben):
    rule_for(premium, ann, ben)
    first = created(post({**LEAD, "servicingAgentFirstName": "Auto"}))
    second = created(post({**LEAD, "servicingAgentFirstName": "Auto", "firstName": "Kim"}))
    assert (first.servicing_agent, second.servicing_agent) == (ann, ben)
    run_worker()
    assert sorted(mailed()) == [
        ("ann@agency.example", "New lead: Lee Dee"),
        ("ben@agency.example", "New lead: Kim Dee"),
    ]
    assert notifications(first) == [("ann", "sent")] and notifications(second) == [("ben", "sent")]


def test_a_workflows_route_action_emails_the_agent_it_set(post: PostFn, premium, ann):
    rule_for(premium, ann)
    workflow(premium, ActionKind.ROUTE)
    record = created(post(LEAD))  # no agent named, no "Auto": the workflow routes it
    assert record.servicing_agent == ann
    run_worker()
    assert mailed() == [("ann@agency.example", "New lead: Lee Dee")]
    assert notifications(record) == [("ann", "sent")]


@pytest.mark.parametrize(
    "named", [True, False], ids=["named in the post", "routed by the workflow"]
)
def test_the_workflows_email_action_and_the_posts_own_make_one_email(
    post: PostFn, premium, ann, named
):
    rule_for(premium, ann)
    workflow(premium, ActionKind.ROUTE, ActionKind.NOTIFY_AGENT)
    workflow(premium, ActionKind.NOTIFY_AGENT)  # a second workflow asking again
    record = created(post({**LEAD, **ANN} if named else LEAD))
    assert record.servicing_agent == ann
    assert AgentNotification.objects.count() == 1
    run_worker()
    assert mailed() == [("ann@agency.example", "New lead: Lee Dee")]


def test_a_duplicate_post_and_a_dry_run_email_nobody(post: PostFn, agency, ann):
    record = created(post({**LEAD, **ANN, "externalID": "lead-77"}))
    duplicate = post({**LEAD, **ANN, "externalID": "lead-77"})
    assert duplicate.json()["result"] == "duplicate" and duplicate.json()["recordId"] == record.pk
    dry = post({**LEAD, **ANN, "firstName": "Dry"}, suffix="/test")
    assert dry.json()["result"] == "test" and dry.json()["servicingAgent"]["id"] == ann.pk
    assert Record.objects.count() == 1
    run_worker()
    assert mailed() == [("ann@agency.example", "New lead: Lee Dee")]
    assert AgentNotification.objects.count() == 1


def test_an_agent_who_turned_emails_off_gets_none_and_the_record_says_so(
    post: PostFn, agency, ann, staff_member: Callable[..., User]
):
    page = Client()
    page.force_login(ann)
    assert page.post("/staff/my-lead-emails/", {}).status_code == 302  # the box left unticked
    record = created(post({**LEAD, **ANN}))
    run_worker()
    assert mail.outbox == []
    assert notifications(record) == [("ann", NotificationState.OFF)]
    boss = staff_member(agency, "boss", Permission.MANAGE_DATA)
    page.force_login(boss)
    html = page.get(f"/staff/records/individual/{record.pk}/change/").content.decode()
    assert "not sent: this agent turned lead e-mails off" in html
    # Turned on again: the next lead is e-mailed.
    page.force_login(ann)
    page.post("/staff/my-lead-emails/", {"notify_new_leads": "on"})
    created(post({**LEAD, **ANN, "firstName": "Kim"}))
    run_worker()
    assert mailed() == [("ann@agency.example", "New lead: Kim Dee")]


def _change_agent(page: Client, record: Record, agent: User) -> Any:
    model = "salesrecord" if record.record_type == "sales_record" else "individual"
    return page.post(f"/staff/records/{model}/{record.pk}/agent/", {"agent": agent.pk})


@pytest.mark.parametrize("mode", ["individual", "sales_record"])
def test_an_agent_changed_on_the_page_is_emailed_once_per_record_and_agent(
    post: PostFn, agency, ann, ben, staff_member: Callable[..., User], mode
):
    agency.record_mode = mode
    agency.save()
    needs = [Permission.MANAGE_DATA]
    if mode == "sales_record":
        needs.append(Permission.SALES_ENABLEMENT)
    page = Client()
    page.force_login(staff_member(agency, "boss", *needs))
    record = created(post(LEAD))  # nobody named: no agent, no e-mail
    run_worker()
    assert record.servicing_agent is None and mail.outbox == []

    assert _change_agent(page, record, ann).status_code == 302
    run_worker()
    assert mailed() == [("ann@agency.example", "New lead: Lee Dee")]
    assert _change_agent(page, record, ann).status_code == 302  # the same agent again: nothing
    run_worker()
    assert len(mail.outbox) == 1

    assert _change_agent(page, record, ben).status_code == 302  # a second agent: they get one
    run_worker()
    assert mailed()[1:] == [("ben@agency.example", "New lead: Lee Dee")]
    assert _change_agent(page, record, ann).status_code == 302  # back to ann: told already
    run_worker()
    assert len(mail.outbox) == 2
    record.refresh_from_db()
    assert record.servicing_agent == ann
    assert sorted(notifications(record)) == [("ann", "sent"), ("ben", "sent")]


def test_an_agent_replaced_before_the_email_went_out_is_not_told(
    client: Any, agency: Account, ann: User, ben: User
) -> None:
    from leadpost.routing.actions import assign_agent
    from leadpost.routing.tasks import notify_agent

    record = Record.objects.create(account=agency, first_name="Jo", last_name="Lee")
    assign_agent(record, ann)
    assign_agent(record, ben)
    for notification in AgentNotification.objects.order_by("pk"):
        notify_agent.call(notification.pk)
    states = dict(AgentNotification.objects.values_list("agent_id", "state"))
    assert states == {ann.pk: NotificationState.MOVED, ben.pk: NotificationState.SENT}
    assert [m.to for m in mail.outbox] == [[ben.email]]
