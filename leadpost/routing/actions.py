"""Lead Routing Rules and Sales Workflows at work (SPEC §6).

`route` picks the agent for a new "Auto" Sales Record inside the record's transaction: the first
rule (by priority) whose conditions match and whose pool has an eligible agent assigns, taking
turns by weight; otherwise the account's fallback agent, or nobody. The decision, with every agent
skipped and why, is kept on the record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch

from leadpost.accounts.models import Account, Permission, User
from leadpost.lib.choices import RecordType
from leadpost.records.actions import ensure_list_values, find_list_values
from leadpost.records.models import ListName, Record, list_key
from leadpost.routing.models import (
    ActionKind,
    AgentProfile,
    PoolMember,
    RoutingRule,
    SalesWorkflow,
    WorkflowRun,
)
from leadpost.routing.tasks import request_notification
from leadpost.webhooks.events import emit
from leadpost.webhooks.models import EventType


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """What rule and workflow conditions look at."""

    state: str
    zip_code: str
    lead_source: str  # the value-list entry's text, or ""
    lead_post_url_id: int | None
    custom: dict[int, str]  # custom field id -> stored value

    @classmethod
    def of(cls, record: Record, custom: dict[int, str] | None = None) -> LeadFacts:
        return cls(
            state=record.state,
            zip_code=record.zip_code,
            lead_source=record.lead_source.value if record.lead_source else "",
            lead_post_url_id=record.lead_post_url_id,
            custom=custom or {},
        )


@dataclass(slots=True)
class Decision:
    """Whom routing chose and why; `as_json` is what the record keeps."""

    agent: User | None = None
    rule: RoutingRule | None = None
    via: str = "none"  # "rule", "fallback" or "none"
    skipped: list[dict[str, Any]] = field(default_factory=list)
    not_matched: list[str] = field(default_factory=list)

    def as_json(self, at: dt.datetime) -> dict[str, Any]:
        return {
            "via": self.via,
            "rule": {"id": self.rule.pk, "name": self.rule.name} if self.rule else None,
            "agent": (
                {
                    "id": self.agent.pk,
                    "firstName": self.agent.first_name,
                    "lastName": self.agent.last_name,
                }
                if self.agent
                else None
            ),
            "skipped": self.skipped,
            "rulesNotMatched": self.not_matched,
            "at": at.isoformat(),
        }


def weighted_turns(members: Sequence[PoolMember]) -> list[PoolMember]:
    """One full turn of the pool, weights interleaved (smooth weighted round-robin).

    Weights 2:1 give A, B, A: over any whole number of turns the split is exactly 2:1, and the
    heavier agent's leads are spread out rather than bunched.
    """
    weights = [max(1, m.weight) for m in members]
    total = sum(weights)
    current = [0] * len(members)
    turns: list[PoolMember] = []
    for _ in range(total):
        for i, weight in enumerate(weights):
            current[i] += weight
        best = max(range(len(members)), key=lambda i: (current[i], -i))
        current[best] -= total
        turns.append(members[best])
    return turns


def _matches(rule: RoutingRule, facts: LeadFacts) -> bool:
    if rule.states and facts.state not in {s.upper() for s in rule.states}:
        return False
    if rule.zip_prefixes and not any(facts.zip_code.startswith(p) for p in rule.zip_prefixes):
        return False
    if rule.lead_sources and list_key(facts.lead_source) not in {
        list_key(s) for s in rule.lead_sources
    }:
        return False
    urls = [u.pk for u in rule.lead_post_urls.all()]
    if urls and facts.lead_post_url_id not in urls:
        return False
    if rule.custom_field_id is not None:
        value = facts.custom.get(rule.custom_field_id)
        if value is None or list_key(value) != list_key(rule.custom_value):
            return False
    return True


def _skip_reason(
    member: PoolMember, rule: RoutingRule, facts: LeadFacts, routed_today: dict[int, int]
) -> str | None:
    agent = member.agent
    profile: AgentProfile | None = getattr(agent, "agent_profile", None)
    if not agent.is_active or (profile is not None and not profile.receives_leads):
        return "inactive"
    if rule.require_available and (profile is None or not profile.available):
        return "not available"
    licensed = {s.upper() for s in (profile.licensed_states if profile else [])}
    if facts.state and facts.state not in licensed:
        return f"not licensed in {facts.state}"
    cap = profile.daily_cap if profile is not None else None
    if cap is not None and routed_today.get(agent.pk, 0) >= cap:
        return f"daily cap of {cap} reached"
    return None


def _routed_today(account: Account, agents: Iterable[int], today: dt.date) -> dict[int, int]:
    rows = (
        Record.objects.filter(account=account, routed_on=today, servicing_agent__in=list(agents))
        .values("servicing_agent")
        .annotate(n=Count("id"))
    )
    return {row["servicing_agent"]: row["n"] for row in rows}


def _rules(account: Account) -> list[RoutingRule]:
    # The models refuse pool members of another account (SPEC §10); rows from before that rule,
    # or written around the models, still never give this account's leads to someone else's
    # agent, nor name that agent in the decision the record keeps.
    pool = (
        PoolMember.objects.filter(agent__account=account)
        .select_related("agent__agent_profile")
        .order_by("order", "id")
    )
    return list(
        RoutingRule.objects.filter(account=account, active=True)
        .select_related("custom_field")
        .prefetch_related(Prefetch("pool", queryset=pool), "lead_post_urls")
        .order_by("priority", "id")
    )


def _within_account(rule: RoutingRule, account: Account) -> bool:
    """Whether the rule's custom field condition is the account's own (SPEC §10).

    A condition on another account's field is never met: dropping it instead would widen the
    rule to every lead. (Another account's Lead Post URL likewise never matches a post.)
    """
    return rule.custom_field is None or rule.custom_field.account_id == account.pk


def route(account: Account, facts: LeadFacts, *, today: dt.date, dry_run: bool = False) -> Decision:
    """Pick the agent for a lead. Call inside the record's transaction unless `dry_run`.

    A dry run reads the rotation without locking or moving it.
    """
    decision = Decision()
    for rule in _rules(account):
        if not _within_account(rule, account) or not _matches(rule, facts):
            decision.not_matched.append(rule.name)
            continue
        turns = weighted_turns(list(rule.pool.all()))
        if not turns:
            continue
        if dry_run:
            position = rule.position
        else:
            # The row lock serialises the rotation: a concurrent post routed by this rule waits
            # here until this transaction commits, then reads the advanced position.
            position = (
                RoutingRule.objects.select_for_update()
                .values_list("position", flat=True)
                .get(pk=rule.pk)
            )
        # Counted after the lock, so a cap is exact however many posts arrive at once.
        routed_today = _routed_today(account, {m.agent_id for m in turns}, today)
        for offset in range(len(turns)):
            index = (position + offset) % len(turns)
            member = turns[index]
            reason = _skip_reason(member, rule, facts, routed_today)
            if reason is None:
                if not dry_run:
                    RoutingRule.objects.filter(pk=rule.pk).update(position=(index + 1) % len(turns))
                decision.agent, decision.rule, decision.via = member.agent, rule, "rule"
                return decision
            entry = {
                "rule": rule.name,
                "agentId": member.agent_id,
                "agent": str(member.agent),
                "reason": reason,
            }
            if entry not in decision.skipped:
                decision.skipped.append(entry)
    fallback = account.fallback_agent
    if fallback is not None and fallback.is_active and fallback.account_id == account.pk:
        decision.agent, decision.via = fallback, "fallback"
    return decision


def apply_decision(record: Record, decision: Decision, *, at: dt.datetime, today: dt.date) -> None:
    record.routing = decision.as_json(at)
    if decision.agent is not None:
        record.servicing_agent = decision.agent
        record.routed_on = today


def _matching_workflows(account: Account, facts: LeadFacts) -> list[SalesWorkflow]:
    """The account's active Sales Workflows whose conditions the lead meets, in order."""
    workflows = (
        SalesWorkflow.objects.filter(account=account, active=True)
        .prefetch_related("actions", "lead_post_urls")
        .order_by("order", "id")
    )
    matching = []
    for workflow in workflows:
        if workflow.states and facts.state not in {s.upper() for s in workflow.states}:
            continue
        if workflow.lead_sources and list_key(facts.lead_source) not in {
            list_key(s) for s in workflow.lead_sources
        }:
            continue
        urls = [u.pk for u in workflow.lead_post_urls.all()]
        if urls and facts.lead_post_url_id not in urls:
            continue
        matching.append(workflow)
    return matching


def workflows_would_route(account: Account, facts: LeadFacts) -> bool:
    """Whether a new unassigned Sales Record with these facts would be routed by a workflow's
    "run Lead Routing Rules" action: what a dry run must report (SPEC §3)."""
    return any(
        action.kind == ActionKind.ROUTE
        for workflow in _matching_workflows(account, facts)
        for action in workflow.actions.all()
    )


def run_workflows(
    record: Record, facts: LeadFacts, *, at: dt.datetime, today: dt.date
) -> list[str]:
    """Run the account's matching Sales Workflows on a new Sales Record, once each, in order.

    Returns the names of the workflows that ran. Call inside the record's transaction.
    """
    account = record.account
    ran: list[str] = []
    changed: set[str] = set()
    for workflow in _matching_workflows(account, facts):
        try:
            with transaction.atomic():
                WorkflowRun.objects.create(workflow=workflow, record=record, ran_at=at)
        except IntegrityError:
            continue  # already ran on this record
        ran.append(workflow.name)
        for action in workflow.actions.all():
            if action.kind == ActionKind.ROUTE and record.servicing_agent_id is None:
                apply_decision(record, route(account, facts, today=today), at=at, today=today)
                changed |= {"servicing_agent", "routing", "routed_on"}
            elif action.kind == ActionKind.SET_STATUS and action.status:
                wanted = {ListName.SALES_STATUS: action.status}
                status = ensure_list_values(account, wanted, find_list_values(account, wanted))
                record.status = status[ListName.SALES_STATUS]
                changed.add("status")
            elif action.kind == ActionKind.NOTIFY_AGENT and record.servicing_agent_id is not None:
                # In the background, enqueued in this transaction: the e-mail goes out only if
                # the record is stored, and a slow mail server never delays the vendor's answer.
                request_notification(record)
    if changed:
        record.save(update_fields=sorted(changed))
    return ran


@transaction.atomic
def assign_agent(record: Record, agent: User | None) -> bool:
    """Give a record another servicing agent from a staff page (SPEC §12): `record.assigned`
    goes out and the new agent is e-mailed, in this transaction. False when nothing changed.

    The agent must be an active user of the record's account (checked here again, whatever the
    form offered: SPEC §10)."""
    if agent is not None and (
        agent.account_id != record.account_id or not agent.is_active or agent.is_operator
    ):
        raise ValueError("only an active user of the record's account is its agent")
    if (
        agent is not None
        and record.record_type == RecordType.SALES_RECORD
        and not agent.has_account_permission(Permission.SALES_ENABLEMENT)
    ):
        # As for an agent named in a post (SPEC §6): one who cannot see the record is not its agent.
        raise ValueError("a Sales Record's agent must be able to see Sales Enablement")
    locked = Record.objects.select_for_update().get(pk=record.pk)
    if locked.servicing_agent_id == (agent.pk if agent else None):
        return False
    locked.servicing_agent = agent
    locked.save(update_fields=["servicing_agent"])
    record.servicing_agent = agent
    if agent is not None:
        emit(record.account_id, [EventType.RECORD_ASSIGNED], record_id=record.pk)
        request_notification(locked)
    return True
