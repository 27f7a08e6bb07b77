"""What happens to a post once its HTTP envelope is accepted: parse, store, log, answer.

`receive_lead` is the one entry point the endpoint calls (CONVENTIONS: the view does HTTP only).
A 200 means stored: the record and its post-log row commit in one transaction before we answer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from leadpost.accounts.models import RecordMode, User
from leadpost.intake.lead import (
    AccountConfig,
    AgentName,
    DecodedForm,
    ListKind,
    ParsedLead,
    Problem,
)
from leadpost.intake.models import LeadPostUrl, PostLog, PostResult
from leadpost.intake.parse import parse_lead
from leadpost.intake.redact import redact_params
from leadpost.lib.encryption import encrypt_ssn, ssn_index
from leadpost.records import attachments
from leadpost.records.actions import (
    check_custom_values,
    ensure_list_values,
    find_list_values,
    match_agents,
    store_custom_values,
)
from leadpost.records.custom_fields import CheckedValue
from leadpost.records.models import CustomField, ListName, ListValue, Record, RecordType
from leadpost.routing.actions import Decision, LeadFacts, apply_decision, route, run_workflows


@dataclass(frozen=True, slots=True)
class Client:
    """Who sent the post, as far as HTTP tells (SPEC §9)."""

    ip: str | None
    user_agent: str


@dataclass(slots=True)
class Outcome:
    """The answer to one post: an HTTP status and the JSON body SPEC §3 prescribes."""

    status: int
    body: dict[str, Any]
    post_id: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


_LIST_FIELDS = {
    ListName.STATUS: "status",
    ListName.SALES_STATUS: "status",
    ListName.LEAD_SOURCE: "lead_source",
    ListName.TYPE: "type",
    ListName.PROJECT_CODE: "project_code",
}


def _list_names(parsed: ParsedLead, url: LeadPostUrl) -> dict[ListName, str]:
    """Which value-list entries the post names, per the record type's own lists."""
    sales = parsed.mode == RecordMode.SALES_RECORD
    by_kind = {
        ListKind.STATUS: ListName.SALES_STATUS if sales else ListName.STATUS,
        ListKind.LEAD_SOURCE: ListName.LEAD_SOURCE,
        ListKind.TYPE: ListName.TYPE,
        ListKind.PROJECT_CODE: ListName.PROJECT_CODE,
    }
    wanted = {by_kind[kind]: value for kind, value in parsed.lists.items()}
    if ListName.LEAD_SOURCE not in wanted and url.default_lead_source:
        wanted[ListName.LEAD_SOURCE] = url.default_lead_source
    return wanted


def _agent_names(parsed: ParsedLead) -> dict[str, AgentName]:
    names: dict[str, AgentName] = {}
    if parsed.servicing_agent:
        names["servicingAgent"] = parsed.servicing_agent
    if parsed.lead_source_agent:
        names["leadSourceAgent"] = parsed.lead_source_agent
    return names


def _routing_warnings(parsed: ParsedLead, routes: bool) -> list[Problem]:
    if not parsed.auto_route or routes:
        return []
    # Lead Routing Rules run only for Sales Records on accounts with premium workflow actions
    # (SPEC §6); elsewhere "Auto" is just a name that matches no agent.
    return [
        Problem(
            "servicingAgentFirstName",
            "routing_unavailable",
            '"Auto" starts Lead Routing Rules only for Sales Records on accounts with premium '
            "workflow actions; not assigned.",
        )
    ]


def _facts(
    url: LeadPostUrl,
    parsed: ParsedLead,
    lists: dict[ListName, ListValue],
    custom: list[tuple[CustomField, CheckedValue]],
) -> LeadFacts:
    source = lists.get(ListName.LEAD_SOURCE)
    return LeadFacts(
        state=str(parsed.fields.get("state", "")),
        zip_code=str(parsed.fields.get("zip_code", "")),
        lead_source=source.value if source else "",
        lead_post_url_id=url.pk,
        custom={f.pk: checked.value for f, checked in custom},
    )


def _unrouted_warnings(decision: Decision) -> list[Problem]:
    if decision.agent is not None:
        return []
    return [
        Problem(
            "servicingAgentFirstName",
            "routing_unassigned",
            "No Lead Routing Rule had an eligible agent and the account has no fallback agent; "
            "not assigned.",
        )
    ]


def _record_from(
    url: LeadPostUrl,
    parsed: ParsedLead,
    lists: dict[ListName, ListValue],
    agents: dict[str, User],
    received_at: dt.datetime,
) -> Record:
    record = Record(
        account=url.account,
        lead_post_url=url,
        record_type=RecordType(parsed.mode),
        created_at=received_at,
        external_id=parsed.external_id,
        **parsed.fields,
    )
    _set_lists(record, lists)
    if parsed.ssn:
        record.ssn_encrypted = encrypt_ssn(parsed.ssn)
        record.ssn_index = ssn_index(parsed.ssn)
    record.servicing_agent = agents.get("servicingAgent")
    record.lead_source_agent = agents.get("leadSourceAgent")
    return record


def _set_lists(record: Record, lists: dict[ListName, ListValue]) -> None:
    for name, value in lists.items():
        setattr(record, _LIST_FIELDS[name], value)


def _agent_json(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "firstName": user.first_name, "lastName": user.last_name}


def _log(
    url: LeadPostUrl,
    *,
    received_at: dt.datetime,
    client: Client,
    status: int,
    result: PostResult,
    params: dict[str, object],
    warnings: list[Problem] = (),  # type: ignore[assignment]
    errors: list[Problem] = (),  # type: ignore[assignment]
    record: Record | None = None,
    dry_run: bool = False,
) -> PostLog:
    return PostLog.objects.create(
        account_id=url.account_id,
        lead_post_url=url,
        received_at=received_at,
        dry_run=dry_run,
        client_ip=client.ip,
        user_agent=client.user_agent,
        status_code=status,
        result=result,
        record=record,
        warnings=[w.as_json() for w in warnings],
        errors=[e.as_json() for e in errors],
        params=params,
    )


def log_refused_post(
    url: LeadPostUrl,
    *,
    received_at: dt.datetime,
    client: Client,
    status: int,
    result: PostResult,
    error: Problem,
    params: dict[str, str] | None = None,
    dry_run: bool = False,
) -> Outcome:
    """A post to a known URL refused before parsing (413, 415, 429) is still logged (SPEC §9)."""
    log = _log(
        url,
        received_at=received_at,
        client=client,
        status=status,
        result=result,
        params=redact_params(params or {}),
        errors=[error],
        dry_run=dry_run,
    )
    body = {"result": "error", "postId": log.pk, "errors": [error.as_json()]}
    return Outcome(status, body, log.pk)


def receive_lead(
    url: LeadPostUrl,
    form: DecodedForm,
    *,
    received_at: dt.datetime,
    client: Client,
    dry_run: bool = False,
    envelope_warnings: list[Problem] = (),  # type: ignore[assignment]
) -> Outcome:
    """Parse a decoded post and store it (or, for a dry run, say what storing it would do)."""
    account = url.account
    parsed = parse_lead(
        form.params,
        RecordMode(account.record_mode),  # type: ignore[arg-type]
        AccountConfig(received_on=account.local_date(received_at)),
    )
    params = redact_params(form.params)
    warnings = [*envelope_warnings, *form.warnings, *parsed.warnings]
    record_type = "salesRecord" if parsed.mode == RecordMode.SALES_RECORD else "individual"
    log_kwargs: dict[str, Any] = {
        "received_at": received_at,
        "client": client,
        "params": params,
        "dry_run": dry_run,
    }

    if parsed.rejected:
        log = _log(
            url,
            status=400,
            result=PostResult.REJECTED,
            warnings=warnings,
            errors=parsed.errors,
            **log_kwargs,
        )
        body = {
            "result": "rejected",
            "postId": log.pk,
            "errors": [e.as_json() for e in parsed.errors],
            "warnings": [w.as_json() for w in warnings],
        }
        return Outcome(400, body, log.pk)

    # Reads happen before the transaction: on SQLite the transaction holds the one write lock, so
    # everything that can be done without it is done first.
    wanted_lists = _list_names(parsed, url)
    lists = find_list_values(account, wanted_lists)
    sales = parsed.mode == RecordMode.SALES_RECORD
    agents, agent_problems = match_agents(account, _agent_names(parsed), sales_enablement=sales)
    custom, custom_problems = check_custom_values(account, parsed.mode, parsed.custom)
    # "Auto" with no last name starts Lead Routing Rules, for Sales Records on premium accounts.
    routes = parsed.auto_route and sales and account.premium_workflows
    warnings += agent_problems + _routing_warnings(parsed, routes) + custom_problems
    today = account.local_date(received_at)

    if dry_run:
        decision = None
        if routes:
            facts = _facts(url, parsed, lists, custom)
            decision = route(account, facts, today=today, dry_run=True)
            warnings += _unrouted_warnings(decision)
            if decision.agent is not None:
                agents["servicingAgent"] = decision.agent
        return _dry_run(
            url,
            parsed,
            wanted_lists,
            lists,
            agents,
            warnings,
            record_type,
            log_kwargs,
            decision.as_json(received_at) if decision else None,
        )

    # Base64 files go to storage before the transaction (no write lock held while writing MBs);
    # they are removed again if the record is not stored.
    blobs = attachments.store_inline_files(account.pk, parsed.notes)
    # Built (SSN encrypted) before the transaction: on SQLite the transaction holds the one write
    # lock, and every millisecond under it is one no other post can use (bench/README.md).
    record = _record_from(url, parsed, lists, agents, received_at)
    try:
        with transaction.atomic():
            if len(lists) < len(wanted_lists):
                lists = ensure_list_values(account, wanted_lists, lists)
                _set_lists(record, lists)
            facts = _facts(url, parsed, lists, custom)
            if routes:
                decision = route(account, facts, today=today)
                apply_decision(record, decision, at=received_at, today=today)
                warnings += _unrouted_warnings(decision)
            record.save(force_insert=True)
            store_custom_values(record, custom)
            if sales and account.premium_workflows:
                run_workflows(record, facts, at=received_at, today=today)
            attachments.add_notes(record, parsed.notes, blobs, now=received_at, new_record=True)
            log = _log(
                url,
                status=200,
                result=PostResult.CREATED,
                warnings=warnings,
                record=record,
                **log_kwargs,
            )
    except IntegrityError:
        attachments.discard(blobs)
        if parsed.external_id is None:
            raise
        # The unique constraint on (account, externalID) refused the insert: a vendor's retry, or
        # a concurrent post of the same lead that committed first. Answer with the existing record.
        return _duplicate(url, parsed.external_id, warnings, record_type, log_kwargs)
    except BaseException:
        attachments.discard(blobs)
        raise

    body = {
        "result": "created",
        "postId": log.pk,
        "recordType": record_type,
        "recordId": record.pk,
        "servicingAgent": _agent_json(record.servicing_agent),
        "warnings": [w.as_json() for w in warnings],
    }
    if record.routing is not None:
        body["routing"] = record.routing
    return Outcome(200, body, log.pk)


def _duplicate(
    url: LeadPostUrl,
    external_id: str,
    warnings: list[Problem],
    record_type: str,
    log_kwargs: dict[str, Any],
) -> Outcome:
    with transaction.atomic():
        existing = Record.objects.filter(account_id=url.account_id, external_id=external_id).first()
        if existing is None:  # pragma: no cover - the constraint that fired names this row
            raise IntegrityError(f"externalID conflict without an existing record ({external_id})")
        log = _log(
            url,
            status=200,
            result=PostResult.DUPLICATE,
            warnings=warnings,
            record=existing,
            **log_kwargs,
        )
    existing_type = (
        "salesRecord" if existing.record_type == RecordType.SALES_RECORD else "individual"
    )
    body = {
        "result": "duplicate",
        "postId": log.pk,
        "recordType": existing_type,
        "recordId": existing.pk,
        "message": f'externalID "{external_id}" was already posted to this account; '
        "no new record was made.",
        "warnings": [w.as_json() for w in warnings],
    }
    return Outcome(200, body, log.pk)


def _dry_run(
    url: LeadPostUrl,
    parsed: ParsedLead,
    wanted_lists: dict[ListName, str],
    lists: dict[ListName, ListValue],
    agents: dict[str, User],
    warnings: list[Problem],
    record_type: str,
    log_kwargs: dict[str, Any],
    routing: dict[str, Any] | None,
) -> Outcome:
    """SPEC §3 dry run: everything a real post would do, reported, nothing stored but the log."""
    existing = None
    if parsed.external_id is not None:
        existing = Record.objects.filter(
            account_id=url.account_id, external_id=parsed.external_id
        ).first()
    log = _log(url, status=200, result=PostResult.TEST, warnings=warnings, **log_kwargs)
    body: dict[str, Any] = {
        "result": "test",
        "postId": log.pk,
        "recordType": record_type,
        "wouldBe": "duplicate" if existing else "created",
        "recordId": existing.pk if existing else None,
        "servicingAgent": _agent_json(agents.get("servicingAgent")),
        "leadSourceAgent": _agent_json(agents.get("leadSourceAgent")),
        "routing": routing,
        "newListValues": [
            {"list": str(name), "value": value}
            for name, value in wanted_lists.items()
            if name not in lists
        ],
        "warnings": [w.as_json() for w in warnings],
    }
    return Outcome(200, body, log.pk)
