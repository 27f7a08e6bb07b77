"""Lead Routing Rules and Sales Workflows (SPEC §6): who gets an "Auto" lead, and why."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.core import mail
from django.utils import timezone

from leadpost.accounts.models import Account, User
from leadpost.intake.actions import Client, receive_lead
from leadpost.intake.lead import DecodedForm
from leadpost.intake.models import LeadPostUrl
from leadpost.intake.views import answer
from leadpost.lib.choices import RecordType
from leadpost.records.models import CustomField, Record
from leadpost.routing.actions import LeadFacts, run_workflows, weighted_turns
from leadpost.routing.models import (
    ActionKind,
    AgentNotification,
    AgentProfile,
    PoolMember,
    RoutingRule,
    SalesWorkflow,
    WorkflowAction,
)
from leadpost.routing.tasks import notify_agent

VENDOR = Client(ip="203.0.113.9", user_agent="test")
AUTO = {
    "firstName": "Lee",
    "lastName": "Dee",
    "servicingAgentFirstName": "Auto",
    "stateAbbrev": "IA",
    "zip": "52240",
}


def agent(account: Account, first: str, states=("IA",), **profile) -> User:
    user = User.objects.create(
        account=account,
        username=first.lower(),
        first_name=first,
        last_name="Agent",
        email=f"{first.lower()}@agency.example",
    )
    AgentProfile.objects.create(user=user, licensed_states=list(states), **profile)
    return user


def rule(account: Account, name: str, agents, *, priority=1, weights=None, **conditions):
    made = RoutingRule.objects.create(account=account, name=name, priority=priority, **conditions)
    for i, user in enumerate(agents):
        PoolMember.objects.create(
            rule=made, agent=user, order=i, weight=(weights[i] if weights else 1)
        )
    return made


def post(url: LeadPostUrl, params=None, *, at=None, dry_run=False, **extra):
    return answer(
        receive_lead(
            url,
            DecodedForm(params={**AUTO, **(params or {}), **extra}, warnings=[]),
            received_at=at or timezone.now(),
            client=VENDOR,
            dry_run=dry_run,
        )
    )


def assigned(outcome) -> str | None:
    agent = outcome.body.get("servicingAgent")
    return agent["firstName"] if agent else None


@pytest.fixture
def url(premium, vendor_url) -> LeadPostUrl:
    return vendor_url[0]


def test_weights_two_to_one_over_300_leads_is_exact(url, premium):
    ann, ben = agent(premium, "Ann"), agent(premium, "Ben")
    rule(premium, "Iowa", [ann, ben], weights=[2, 1], states=["IA"])
    counts = Counter(assigned(post(url)) for _ in range(300))
    assert counts == {"Ann": 200, "Ben": 100}


def test_weighted_turns_interleave():
    members = [PoolMember(agent_id=1, weight=2, order=0), PoolMember(agent_id=2, weight=1, order=1)]
    assert [m.agent_id for m in weighted_turns(members)] == [1, 2, 1]


def test_the_record_keeps_why_it_went_to_whom(url, premium):
    ann, ben = agent(premium, "Ann", states=["IL"]), agent(premium, "Ben")
    rule(premium, "Iowa", [ann, ben])
    outcome = post(url)
    record = Record.objects.get(pk=outcome.body["recordId"])
    assert record.servicing_agent == ben
    assert record.routing["via"] == "rule"
    assert record.routing["rule"]["name"] == "Iowa"
    assert record.routing["skipped"] == [
        {"rule": "Iowa", "agentId": ann.pk, "agent": "Ann Agent", "reason": "not licensed in IA"}
    ]
    assert outcome.body["routing"] == record.routing


@pytest.mark.parametrize(
    ("condition", "matching", "other"),
    [
        (
            {"states": ["IA"]},
            {"stateAbbrev": "IA", "zip": "52240"},
            {"stateAbbrev": "IL", "zip": "60601"},
        ),
        ({"zip_prefixes": ["522"]}, {"zip": "52240"}, {"zip": "50309"}),
        ({"lead_sources": ["datalot"]}, {"leadSource": "Datalot"}, {"leadSource": "TV"}),
    ],
)
def test_each_condition_alone(url, premium, condition, matching, other):
    ann = agent(premium, "Ann", states=["IA", "IL"])
    bob_fallback = agent(premium, "Fay", states=["IA", "IL"])
    premium.fallback_agent = bob_fallback
    premium.save()
    rule(premium, "Only", [ann], **condition)
    assert assigned(post(url, matching)) == "Ann"
    assert assigned(post(url, other)) == "Fay"


def test_condition_on_the_lead_post_url(url, premium, agency):
    ann = agent(premium, "Ann")
    made = rule(premium, "Datalot only", [ann])
    other_url, _ = LeadPostUrl.issue(agency, "NextGen")
    made.lead_post_urls.add(url)
    assert assigned(post(url)) == "Ann"
    assert assigned(post(other_url)) is None


def test_condition_on_a_custom_field(url, premium):
    field = CustomField.objects.create(
        account=premium,
        entity_type="sales_record",
        name="Product",
        field_type="dropdown",
        options=["Life"],
    )
    ann = agent(premium, "Ann")
    rule(premium, "Life leads", [ann], custom_field=field, custom_value="life")
    assert assigned(post(url, {"custom_Product": "Life"})) == "Ann"
    assert assigned(post(url, {"custom_Product": "Auto"})) is None


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda u: User.objects.filter(pk=u.pk).update(is_active=False), "inactive"),
        (lambda u: AgentProfile.objects.filter(user=u).update(receives_leads=False), "inactive"),
        (lambda u: AgentProfile.objects.filter(user=u).update(available=False), "not available"),
        (
            lambda u: AgentProfile.objects.filter(user=u).update(licensed_states=["NE"]),
            "not licensed in IA",
        ),
        (
            lambda u: AgentProfile.objects.filter(user=u).update(daily_cap=0),
            "daily cap of 0 reached",
        ),
    ],
)
def test_each_skip_reason_alone(url, premium, setup, reason):
    ann, ben = agent(premium, "Ann"), agent(premium, "Ben")
    rule(premium, "Iowa", [ann, ben], require_available=True)
    setup(ann)
    outcome = post(url)
    assert assigned(outcome) == "Ben"
    assert [(s["agent"], s["reason"]) for s in outcome.body["routing"]["skipped"]] == [
        ("Ann Agent", reason)
    ]


def test_first_rule_with_an_eligible_agent_wins(url, premium):
    ann, ben = agent(premium, "Ann", states=["NE"]), agent(premium, "Ben")
    rule(premium, "First", [ann], priority=1)
    rule(premium, "Second", [ben], priority=2)
    outcome = post(url)
    assert assigned(outcome) == "Ben"
    assert outcome.body["routing"]["rule"]["name"] == "Second"


def test_daily_caps_reset_at_midnight_in_the_account_time_zone(url, premium):
    ann, ben = agent(premium, "Ann", daily_cap=1), agent(premium, "Ben")
    rule(premium, "Iowa", [ann, ben])
    chicago = premium.tz
    late = dt.datetime(2026, 11, 20, 23, 30, tzinfo=chicago)
    # Ann, then Ben (rotation), then Ben again: Ann's cap of 1 for Nov 20 is used.
    assert [assigned(post(url, at=late + dt.timedelta(minutes=m))) for m in (0, 5, 10)] == [
        "Ann",
        "Ben",
        "Ben",
    ]
    # 00:10 in Iowa is 06:10 UTC: a new day for the cap.
    assert assigned(post(url, at=dt.datetime(2026, 11, 21, 0, 10, tzinfo=chicago))) == "Ann"


def test_unassigned_without_fallback_is_warned(url, premium):
    ann = agent(premium, "Ann", states=["NE"])
    rule(premium, "Iowa", [ann])
    outcome = post(url)
    assert outcome.status == 200
    assert assigned(outcome) is None
    assert outcome.body["routing"]["via"] == "none"
    assert "routing_unassigned" in [w["code"] for w in outcome.body["warnings"]]


def test_dry_run_routes_without_moving_the_rotation(url, premium):
    ann, ben = agent(premium, "Ann"), agent(premium, "Ben")
    rule(premium, "Iowa", [ann, ben])
    assert assigned(post(url, dry_run=True)) == "Ann"
    assert assigned(post(url, dry_run=True)) == "Ann"
    assert Record.objects.count() == 0
    assert assigned(post(url)) == "Ann"
    assert assigned(post(url, dry_run=True)) == "Ben"


@pytest.mark.parametrize(
    ("premium_flag", "mode", "params"),
    [
        (False, RecordType.SALES_RECORD, {}),
        (True, RecordType.INDIVIDUAL, {}),
        (True, RecordType.SALES_RECORD, {"servicingAgentLastName": "Smith"}),
    ],
)
def test_no_routing_outside_premium_sales_auto(url, premium, premium_flag, mode, params):
    premium.premium_workflows = premium_flag
    premium.record_mode = mode
    premium.save()
    rule(premium, "Iowa", [agent(premium, "Ann")])
    outcome = post(url, params)
    assert assigned(outcome) is None
    assert Record.objects.get(pk=outcome.body["recordId"]).routing is None
    codes = [w["code"] for w in outcome.body["warnings"]]
    assert ("agent_not_found" if params else "routing_unavailable") in codes


def test_workflow_sets_status_and_emails_the_agent_once(
    url, premium, django_capture_on_commit_callbacks
):
    ann = agent(premium, "Ann")
    rule(premium, "Iowa", [ann])
    workflow = SalesWorkflow.objects.create(account=premium, name="New Iowa leads", states=["IA"])
    WorkflowAction.objects.create(
        workflow=workflow, order=1, kind=ActionKind.SET_STATUS, status="Assigned"
    )
    WorkflowAction.objects.create(workflow=workflow, order=2, kind=ActionKind.NOTIFY_AGENT)
    outcome = post(url)
    record = Record.objects.get(pk=outcome.body["recordId"])
    assert record.status.value == "Assigned" and record.servicing_agent == ann
    notification = AgentNotification.objects.get(record=record)
    assert notification.agent == ann
    assert notify_agent.call(notification.pk) == "sent"
    assert notify_agent.call(notification.pk) == "not claimed"  # sent once
    assert [m.to for m in mail.outbox] == [["ann@agency.example"]]
    assert "Lee Dee" in mail.outbox[0].body and "ssn" not in mail.outbox[0].body.lower()
    # Once per record: running the workflows again does nothing.
    assert (
        run_workflows(record, LeadFacts.of(record), at=timezone.now(), today=dt.date.today()) == []
    )


def test_workflow_route_action_routes_an_unassigned_record(url, premium):
    ben = agent(premium, "Ben")
    rule(premium, "Iowa", [ben])
    workflow = SalesWorkflow.objects.create(account=premium, name="Route everything")
    WorkflowAction.objects.create(workflow=workflow, kind=ActionKind.ROUTE)
    # No "Auto": the workflow's own action routes the new Sales Record.
    outcome = post(url, servicingAgentFirstName="", stateAbbrev="IA")
    assert Record.objects.get(pk=outcome.body["recordId"]).servicing_agent == ben
