"""What happens to a post once its HTTP envelope is accepted: parse, store, log, answer.

`receive_lead` is the one entry point the endpoint calls (CONVENTIONS: the view does HTTP only).
A 200 means stored: the record and its post-log row commit in one transaction before we answer.
When the database refuses a value for good (a bug of ours: SPEC §3), the lead is stored all the
same by `_salvage`, field by field, and only what the database refuses is dropped, warned.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction

from leadpost.accounts.models import Account, RecordMode, User
from leadpost.intake.lead import (
    AccountConfig,
    AgentName,
    DecodedForm,
    ListKind,
    ParsedLead,
    ParsedNote,
    Problem,
)
from leadpost.intake.models import LeadPostUrl, PostLog, PostResult
from leadpost.intake.parse import FIELD_PARAMETERS, parse_lead
from leadpost.intake.redact import mask_ssn_shapes, redact_params
from leadpost.lib.dberrors import describe, is_passing
from leadpost.lib.encryption import encrypt_ssn, ssn_index
from leadpost.records import attachments
from leadpost.records.actions import (
    AGENT_MISS_CODES,
    NOT_ASSIGNED,
    check_custom_values,
    ensure_list_values,
    find_list_values,
    match_agents,
    store_custom_values,
)
from leadpost.records.attachments import StoredBlob
from leadpost.records.custom_fields import CheckedValue
from leadpost.records.models import CustomField, ListName, ListValue, Record, RecordType
from leadpost.routing.actions import (
    Decision,
    LeadFacts,
    apply_decision,
    route,
    run_workflows,
    workflows_would_route,
)

logger = logging.getLogger(__name__)


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
_LIST_PARAMETERS = {
    ListName.STATUS: "status",
    ListName.SALES_STATUS: "status",
    ListName.LEAD_SOURCE: "leadSource",
    ListName.TYPE: "type",
    ListName.PROJECT_CODE: "projectCode",
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


def _how_assigned(agent: User, routing: dict[str, Any] | None) -> str:
    name = f"{agent.first_name} {agent.last_name}"
    via = (routing or {}).get("via")
    if via == "rule":
        rule = (routing or {}).get("rule") or {}
        return f"; routed to {name} by Lead Routing Rule “{rule.get('name', '')}”."
    if via == "fallback":
        return f"; assigned to {name}, the account's fallback agent."
    return f"; assigned to {name}."


def _settle_agent_warnings(
    warnings: list[Problem], agent: User | None, routing: dict[str, Any] | None
) -> list[Problem]:
    """SPEC §6: no warning says "not assigned" beside an assigned agent; it says what happened."""
    if agent is None:
        return warnings
    settled = []
    for problem in warnings:
        if (
            problem.field == "servicingAgentFirstName"
            and problem.code in AGENT_MISS_CODES
            and problem.message.endswith(NOT_ASSIGNED)
        ):
            message = problem.message.removesuffix(NOT_ASSIGNED) + _how_assigned(agent, routing)
            problem = Problem(problem.field, problem.code, message)
        settled.append(problem)
    return settled


def _record_from(
    url: LeadPostUrl,
    parsed: ParsedLead,
    lists: dict[ListName, ListValue],
    agents: dict[str, User],
    received_at: dt.datetime,
    *,
    values: dict[str, object] | None = None,
) -> Record:
    record = Record(
        account=url.account,
        lead_post_url=url,
        record_type=RecordType(parsed.mode),
        created_at=received_at,
        external_id=parsed.external_id,
        **(parsed.fields if values is None else values),
    )
    _set_lists(record, lists)
    if parsed.ssn and values is None:
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


def _log_fields(
    url: LeadPostUrl,
    *,
    received_at: dt.datetime,
    client: Client,
    status: int,
    result: PostResult,
    params: dict[str, object],
    record_mode: str,
    warnings: list[Problem] = (),  # type: ignore[assignment]
    errors: list[Problem] = (),  # type: ignore[assignment]
    record: Record | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    return {
        "account_id": url.account_id,
        "lead_post_url": url,
        "received_at": received_at,
        "dry_run": dry_run,
        "record_mode": record_mode,
        "client_ip": client.ip,
        "user_agent": client.user_agent,
        "status_code": status,
        "result": result,
        "record": record,
        "warnings": [w.as_json() for w in warnings],
        "errors": [e.as_json() for e in errors],
        "params": params,
    }


def _log(**kwargs: Any) -> PostLog:
    """The post-log row, also when the database refuses what it holds (SPEC §9: every post to a
    known URL is logged): then without the refused parts, said in the row and the server log."""
    fields = _log_fields(**kwargs)
    try:
        if connection.in_atomic_block:
            with transaction.atomic():  # a savepoint: a refused row must not doom the record
                return PostLog.objects.create(**fields)
        return PostLog.objects.create(**fields)
    except DatabaseError as exc:
        if is_passing(exc):
            raise
        logger.error("post log row stored without its parameters: %s", describe(exc))
        fields["params"] = {"(not stored)": "the database refused the parameters of this post"}
        fields["warnings"] = [
            Problem(None, "not_logged", "the database refused this post's warnings").as_json()
        ]
        return PostLog.objects.create(**fields)


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
    """A post to a known URL refused before parsing (405, 408, 413, 415, 429, 503, cut short) is
    still logged (SPEC §9)."""
    log = _log(
        url=url,
        received_at=received_at,
        client=client,
        status=status,
        result=result,
        params=redact_params(params or {}),
        record_mode=url.account.record_mode,
        errors=[error],
        dry_run=dry_run,
    )
    body = {"result": "error", "postId": log.pk, "errors": [error.as_json()]}
    return Outcome(status, body, log.pk)


@dataclass(slots=True)
class _Post:
    """One post on its way to storage: what was read, what the account's data made of it."""

    url: LeadPostUrl
    parsed: ParsedLead
    wanted_lists: dict[ListName, str]
    lists: dict[ListName, ListValue]
    agents: dict[str, User]
    custom: list[tuple[CustomField, CheckedValue]]
    routes: bool
    warnings: list[Problem]
    log_kwargs: dict[str, Any]
    received_at: dt.datetime

    @property
    def account(self) -> Account:
        return self.url.account

    @property
    def today(self) -> dt.date:
        return self.account.local_date(self.received_at)

    @property
    def sales(self) -> bool:
        return self.parsed.mode == RecordMode.SALES_RECORD


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
    sent, ssn_warnings = mask_ssn_shapes(form.params)
    parsed = parse_lead(
        sent,
        RecordMode(account.record_mode),  # type: ignore[arg-type]
        AccountConfig(received_on=account.local_date(received_at)),
    )
    warnings = [*envelope_warnings, *form.warnings, *ssn_warnings, *parsed.warnings]
    log_kwargs: dict[str, Any] = {
        "url": url,
        "received_at": received_at,
        "client": client,
        "params": redact_params(form.params),
        "dry_run": dry_run,
        "record_mode": parsed.mode,
    }

    if parsed.rejected:
        log = _log(
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
    post = _Post(
        url, parsed, wanted_lists, lists, agents, custom, routes, warnings, log_kwargs, received_at
    )
    if dry_run:
        return _dry_run(post)

    # Base64 files go to storage before the transaction (no write lock held while writing MBs);
    # they are removed again if the record is not stored.
    blobs = attachments.store_inline_files(account.pk, parsed.notes)
    try:
        try:
            record, log = _store(post, blobs)
        except DatabaseError as exc:
            if is_passing(exc):
                raise
            # The unique constraint on (account, externalID) refused the insert: a vendor's
            # retry, or a concurrent post of the same lead that committed first. (Checked for
            # any refusal: the database may report another error of the row first.)
            duplicate = _duplicate(post)
            if duplicate is not None:
                attachments.discard(blobs)
                return duplicate
            logger.error("lead stored through the salvage path: %s", describe(exc))
            try:
                record, log = _salvage(post, blobs)
            except IntegrityError:
                duplicate = _duplicate(post)  # the same lead committed meanwhile
                if duplicate is None:
                    raise
                attachments.discard(blobs)
                return duplicate
    except BaseException:
        attachments.discard(blobs)
        raise

    body = {
        "result": "created",
        "postId": log.pk,
        "recordType": _record_type_json(record.record_type),
        "recordId": record.pk,
        "servicingAgent": _agent_json(record.servicing_agent),
        "warnings": [w.as_json() for w in post.warnings],
    }
    if record.routing is not None:
        body["routing"] = record.routing
    return Outcome(200, body, log.pk)


def _record_type_json(record_type: str) -> str:
    return "salesRecord" if record_type == RecordType.SALES_RECORD else "individual"


@transaction.atomic(durable=True)
def _store(post: _Post, blobs: dict[tuple[int, int], StoredBlob]) -> tuple[Record, PostLog]:
    """The record, everything the post carries and its post-log row, in one transaction."""
    # Built (SSN encrypted) before the writes: on SQLite the transaction holds the one write lock,
    # and every millisecond under it is one no other post can use (bench/README.md).
    # Nothing of `post` is changed here: if the transaction fails, `_salvage` starts from it.
    lists = post.lists
    record = _record_from(post.url, post.parsed, lists, post.agents, post.received_at)
    if len(lists) < len(post.wanted_lists):
        lists = ensure_list_values(post.account, post.wanted_lists, lists)
        _set_lists(record, lists)
    facts = _facts(post.url, post.parsed, lists, post.custom)
    warnings = list(post.warnings)
    if post.routes:
        decision = route(post.account, facts, today=post.today)
        apply_decision(record, decision, at=post.received_at, today=post.today)
        warnings += _unrouted_warnings(decision)
    record.save(force_insert=True)
    store_custom_values(record, post.custom)
    if post.sales and post.account.premium_workflows:
        run_workflows(record, facts, at=post.received_at, today=post.today)
    attachments.add_notes(record, post.parsed.notes, blobs, now=post.received_at, new_record=True)
    warnings = _settle_agent_warnings(warnings, record.servicing_agent, record.routing)
    log = PostLog.objects.create(
        **_log_fields(
            status=200,
            result=PostResult.CREATED,
            warnings=warnings,
            record=record,
            **post.log_kwargs,
        )
    )
    post.warnings = warnings
    return record, log


def _refused(parameter: str | None, what: str) -> Problem:
    return Problem(
        parameter,
        "not_stored",
        f"{what} could not be stored (the database refused it); the lead was stored without it "
        "and the post log keeps what was sent",
    )


@transaction.atomic(durable=True)
def _salvage(post: _Post, blobs: dict[tuple[int, int], StoredBlob]) -> tuple[Record, PostLog]:
    """Store the lead when the whole of it could not be: the names first, then each other part in
    a savepoint of its own, dropping (and warning) only the parts the database refuses."""
    parsed = post.parsed
    essential = {k: v for k, v in parsed.fields.items() if k in ("first_name", "last_name")}
    # Read again: rows the failed transaction created are gone with it.
    lists = find_list_values(post.account, post.wanted_lists)
    record = _record_from(post.url, parsed, lists, post.agents, post.received_at, values=essential)
    record.save(force_insert=True)
    refused: list[Problem] = []
    optional = dict(parsed.fields)
    if parsed.ssn:
        optional["ssn_encrypted"] = encrypt_ssn(parsed.ssn)
        optional["ssn_index"] = ssn_index(parsed.ssn)
    for name, value in optional.items():
        if name in essential:
            continue
        if _try(_set_field, record, name, value):
            setattr(record, name, value)
        else:
            parameter = "ssn" if name.startswith("ssn_") else FIELD_PARAMETERS.get(name, name)
            refused.append(_refused(parameter, parameter))
    for name, value in post.wanted_lists.items():
        if name in lists:
            continue
        made: dict[ListName, ListValue] = {}
        if _try(_add_list_value, record, name, value, made):
            _set_lists(record, made)
            lists.update(made)
        else:
            refused.append(_refused(_LIST_PARAMETERS[name], _LIST_PARAMETERS[name]))
    for custom_field, checked in post.custom:
        if not _try(store_custom_values, record, [(custom_field, checked)]):
            refused.append(_refused(f"custom_{custom_field.name}", f"custom_{custom_field.name}"))
    facts = _facts(post.url, parsed, lists, post.custom)
    if post.routes and not _try(_route, post, record, facts):
        refused.append(_refused("servicingAgentFirstName", "The routing decision"))
    workflows = post.sales and post.account.premium_workflows
    if workflows and not _try(run_workflows, record, facts, at=post.received_at, today=post.today):
        refused.append(_refused(None, "The Sales Workflows' work"))
    for note in parsed.notes:
        if not _try(_add_note, record, note, blobs, post.received_at):
            refused.append(
                _refused(f"attachment_note_{note.number}_body_text", f"Note {note.number}")
            )
    post.warnings = _settle_agent_warnings(
        [*post.warnings, *refused], record.servicing_agent, record.routing
    )
    log = _log(
        status=200,
        result=PostResult.CREATED,
        warnings=post.warnings,
        record=record,
        **post.log_kwargs,
    )
    return record, log


def _set_field(record: Record, name: str, value: object) -> None:
    Record.objects.filter(pk=record.pk).update(**{name: value})


def _add_list_value(
    record: Record, name: ListName, value: str, made: dict[ListName, ListValue]
) -> None:
    made.update(ensure_list_values(record.account, {name: value}, {}))
    Record.objects.filter(pk=record.pk).update(**{_LIST_FIELDS[name]: made[name]})


def _route(post: _Post, record: Record, facts: LeadFacts) -> None:
    decision = route(post.account, facts, today=post.today)
    apply_decision(record, decision, at=post.received_at, today=post.today)
    record.save(update_fields=["servicing_agent", "routing", "routed_on"])
    post.warnings += _unrouted_warnings(decision)


def _add_note(
    record: Record, note: ParsedNote, blobs: dict[tuple[int, int], StoredBlob], now: dt.datetime
) -> None:
    mine = {key: blob for key, blob in blobs.items() if key[0] == note.number}
    attachments.add_notes(record, [note], mine, now=now, new_record=False)


def _try(step: Callable[..., object], *args: Any, **kwargs: Any) -> bool:
    """Run `step` in a savepoint; False when the database refuses it for good."""
    try:
        with transaction.atomic():
            step(*args, **kwargs)
    except DatabaseError as exc:
        if is_passing(exc):
            raise
        logger.error("salvage: part of a lead not stored: %s", describe(exc))
        return False
    return True


def _duplicate(post: _Post) -> Outcome | None:
    """The answer to a post whose externalID is already taken, or None when it is not."""
    external_id = post.parsed.external_id
    if external_id is None:
        return None
    with transaction.atomic():
        existing = Record.objects.filter(
            account_id=post.url.account_id, external_id=external_id
        ).first()
        if existing is None:
            return None
        log = _log(
            status=200,
            result=PostResult.DUPLICATE,
            warnings=post.warnings,
            record=existing,
            **post.log_kwargs,
        )
    body = {
        "result": "duplicate",
        "postId": log.pk,
        "recordType": _record_type_json(existing.record_type),
        "recordId": existing.pk,
        "message": f'externalID "{external_id}" was already posted to this account; '
        "no new record was made.",
        "warnings": [w.as_json() for w in post.warnings],
    }
    return Outcome(200, body, log.pk)


def _dry_run(post: _Post) -> Outcome:
    """SPEC §3 dry run: everything a real post would do, reported, nothing stored but the log."""
    parsed = post.parsed
    decision = None
    facts = _facts(post.url, parsed, post.lists, post.custom)
    unassigned = "servicingAgent" not in post.agents
    if post.routes or (
        unassigned
        and post.sales
        and post.account.premium_workflows
        and workflows_would_route(post.account, facts)
    ):
        decision = route(post.account, facts, today=post.today, dry_run=True)
        if post.routes:
            post.warnings += _unrouted_warnings(decision)
        if decision.agent is not None:
            post.agents["servicingAgent"] = decision.agent
    routing = decision.as_json(post.received_at) if decision else None
    warnings = _settle_agent_warnings(post.warnings, post.agents.get("servicingAgent"), routing)
    existing = None
    if parsed.external_id is not None:
        existing = Record.objects.filter(
            account_id=post.url.account_id, external_id=parsed.external_id
        ).first()
    log = _log(status=200, result=PostResult.TEST, warnings=warnings, **post.log_kwargs)
    body: dict[str, Any] = {
        "result": "test",
        "postId": log.pk,
        "recordType": _record_type_json(parsed.mode),
        "wouldBe": "duplicate" if existing else "created",
        "recordId": existing.pk if existing else None,
        "servicingAgent": _agent_json(post.agents.get("servicingAgent")),
        "leadSourceAgent": _agent_json(post.agents.get("leadSourceAgent")),
        "routing": routing,
        "newListValues": [
            {"list": str(name), "value": value}
            for name, value in post.wanted_lists.items()
            if name not in post.lists
        ],
        "warnings": [w.as_json() for w in warnings],
    }
    return Outcome(200, body, log.pk)
