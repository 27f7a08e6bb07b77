"""What happens to a post once its HTTP envelope is accepted: parse, store, log (SPEC §3–§9).

`receive_lead` is the one entry point the endpoint calls, and it returns facts (`PostOutcome`:
what became of the post, its post-log row, its record); the view makes the HTTP answer of them.
A 200 means stored: `store_lead`, the one durable transaction, commits the record, everything the
post carries and its post-log row before the view answers. When the database refuses a value for
good (a bug of ours: SPEC §3) the lead is stored all the same by `_salvage`, part by part, and only
what the database refuses is dropped, warned.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from leadpost.accounts.models import User
from leadpost.consent.actions import store_evidence
from leadpost.intake import caps
from leadpost.intake.caps import CapHit
from leadpost.intake.config import AccountConfig
from leadpost.intake.lead import AccountConfig as ParseConfig
from leadpost.intake.lead import DecodedForm, ParsedLead
from leadpost.intake.models import LeadPostUrl, PostLog, PostResult
from leadpost.intake.parse import FIELD_PARAMETERS, parse_lead
from leadpost.intake.redact import mask_ssn_shapes, redact_params
from leadpost.lib import fastsql
from leadpost.lib.choices import ListName, RecordType
from leadpost.lib.dberrors import describe, is_passing
from leadpost.lib.encryption import encrypt_ssn, ssn_index
from leadpost.lib.problems import Problem
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
from leadpost.records.duplicates import (
    NO_LOOKUP,
    Duplicate,
    Lookup,
    find_duplicate,
    keys_of,
    write_keys,
)
from leadpost.records.inputs import AgentName, ParsedNote
from leadpost.records.models import CustomField, ListValue, Record
from leadpost.routing.actions import (
    Decision,
    LeadFacts,
    apply_decision,
    route,
    run_workflows,
    workflows_would_route,
)
from leadpost.routing.tasks import request_notification
from leadpost.webhooks.events import record_events

logger = logging.getLogger(__name__)

Blobs = dict[tuple[int, int], StoredBlob]


@dataclass(frozen=True, slots=True)
class Client:
    """Who sent the post, as far as HTTP tells (SPEC §9)."""

    ip: str | None
    user_agent: str


@dataclass(slots=True)
class PostOutcome:
    """What became of one post: the facts the view answers with (SPEC §3).

    `log` is the post's post-log row (its id is the answer's postId, its status code the answer's).
    `record` is the record made, the existing one of a duplicate, or the one a dry run would
    duplicate. `cap` is the cap a post went (or a dry run would go) beyond (SPEC §14).
    """

    result: PostResult
    log: PostLog
    record_type: RecordType
    record: Record | None = None
    warnings: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    servicing_agent: User | None = None
    lead_source_agent: User | None = None
    routing: dict[str, Any] | None = None
    new_list_values: list[tuple[ListName, str]] = field(default_factory=list)
    external_id: str | None = None
    cap: CapHit | None = None
    # SPEC §14: the consent evidence a dry run would store (field -> checked value).
    consent: dict[str, str] = field(default_factory=dict)


class _OverCap(Exception):
    """Raised inside the record's transaction when a cap is full: the transaction is abandoned,
    its count with it, and the post is logged over_cap outside it."""

    def __init__(self, hit: CapHit) -> None:
        super().__init__(hit.cap.period)
        self.hit = hit


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


@dataclass(slots=True)
class _Post:
    """One post on its way to storage: what was read, what the account's data made of it."""

    config: AccountConfig
    parsed: ParsedLead
    wanted_lists: dict[ListName, str]
    lists: dict[ListName, ListValue]
    agents: dict[str, User]
    custom: list[tuple[CustomField, CheckedValue]]
    routes: bool  # "Auto" on a premium Sales Record account: Lead Routing Rules pick the agent
    warnings: list[Problem]
    log_fields: dict[str, Any]
    received_at: dt.datetime
    # The cross-vendor duplicate look-up (SPEC §14), made before the transaction: the flag and
    # the match keys the record is to write.
    duplicate: Lookup = NO_LOOKUP

    @property
    def url(self) -> LeadPostUrl:
        return self.config.url

    @property
    def today(self) -> dt.date:
        return self.config.account.local_date(self.received_at)

    @property
    def workflows(self) -> bool:
        """Sales Workflows run on the new record (SPEC §6)."""
        return self.parsed.mode == RecordType.SALES_RECORD and self.config.account.premium_workflows

    def facts(self, lists: dict[ListName, ListValue] | None = None) -> LeadFacts:
        """What rules and workflows look at, with `lists` as the post's entries (default: the
        ones that existed before it)."""
        source = (self.lists if lists is None else lists).get(ListName.LEAD_SOURCE)
        return LeadFacts(
            state=str(self.parsed.fields.get("state", "")),
            zip_code=str(self.parsed.fields.get("zip_code", "")),
            lead_source=source.value if source else "",
            lead_post_url_id=self.url.pk,
            custom={f.pk: checked.value for f, checked in self.custom},
        )


def _log_fields(
    url: LeadPostUrl,
    *,
    received_at: dt.datetime,
    client: Client,
    params: dict[str, object],
    record_mode: str,
    dry_run: bool,
) -> dict[str, Any]:
    return {
        "account_id": url.account_id,
        "lead_post_url": url,
        "received_at": received_at,
        "dry_run": dry_run,
        "record_mode": record_mode,
        "client_ip": client.ip,
        "user_agent": client.user_agent,
        "params": params,
    }


def _elapsed_us(received_at: dt.datetime) -> int:
    """Microseconds since the post arrived (the post log's answer time)."""
    return max(0, (timezone.now() - received_at) // _MICROSECOND)


_MICROSECOND = dt.timedelta(microseconds=1)


def _log(
    fields: dict[str, Any],
    *,
    status: int,
    result: PostResult,
    warnings: list[Problem] = (),  # type: ignore[assignment]
    errors: list[Problem] = (),  # type: ignore[assignment]
    record: Record | None = None,
) -> PostLog:
    """The post-log row, also when the database refuses what it holds (SPEC §9: every post to a
    known URL is logged): then without the refused parts, said in the row and the server log."""
    row = PostLog(
        **fields,
        status_code=status,
        result=result,
        answer_us=_elapsed_us(fields["received_at"]),
        record=record,
        warnings=[w.as_json() for w in warnings],
        errors=[e.as_json() for e in errors],
    )
    try:
        if connection.in_atomic_block:
            with transaction.atomic():  # a savepoint: a refused row must not doom the record
                fastsql.insert(row)
        else:
            fastsql.insert(row)
        return row
    except DatabaseError as exc:
        if is_passing(exc):
            raise
        logger.error("post log row stored without its parameters: %s", describe(exc))
        row.pk = None
        row._state.adding = True
        row.params = {"(not stored)": "the database refused the parameters of this post"}
        row.warnings = [
            Problem(None, "not_logged", "the database refused this post's warnings").as_json()
        ]
        fastsql.insert(row)
        return row


def log_refused_post(
    url: LeadPostUrl,
    *,
    received_at: dt.datetime,
    client: Client,
    status: int,
    result: PostResult,
    error: Problem,
    dry_run: bool = False,
) -> PostOutcome:
    """A post to a known URL refused before its parameters are read (405, 408, 413, 415, 429, 503,
    cut short) is still logged (SPEC §9), with the status code the view answers it with."""
    fields = _log_fields(
        url,
        received_at=received_at,
        client=client,
        params={},
        record_mode=url.account.record_mode,
        dry_run=dry_run,
    )
    log = _log(fields, status=status, result=result, errors=[error])
    return PostOutcome(result, log, RecordType(url.account.record_mode), errors=[error])


def receive_lead(
    config: AccountConfig | LeadPostUrl,
    form: DecodedForm,
    *,
    received_at: dt.datetime,
    client: Client,
    dry_run: bool = False,
    envelope_warnings: list[Problem] = (),  # type: ignore[assignment]
) -> PostOutcome:
    """Parse a decoded post and store it (or, for a dry run, say what storing it would do)."""
    if isinstance(config, LeadPostUrl):
        config = AccountConfig.uncached(config)
    post = _prepare(config, form, received_at, client, dry_run, envelope_warnings)
    parsed = post.parsed
    if parsed.rejected:
        log = _log(
            post.log_fields,
            status=400,
            result=PostResult.REJECTED,
            warnings=post.warnings,
            errors=parsed.errors,
        )
        return PostOutcome(
            PostResult.REJECTED, log, parsed.mode, warnings=post.warnings, errors=parsed.errors
        )
    if dry_run:
        return _dry_run(post)
    # A cap already full needs no transaction to tell (nothing of a committed count goes
    # back); the one that fills it is caught by the count inside the record's. A vendor's retry
    # of a lead already bought is still answered duplicate, with its record.
    hit = caps.reached(config.url, config.account, received_at)
    if hit is not None:
        return _duplicate(post) or _over_cap(post, hit)

    # Base64 files go to storage before the transaction (no write lock held while writing MBs);
    # they are removed again if the record is not stored.
    blobs = attachments.store_inline_files(config.account.pk, parsed.notes)
    try:
        try:
            record, log = store_lead(post, blobs)
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
    except _OverCap as over:
        attachments.discard(blobs)
        return _over_cap(post, over.hit)
    except BaseException:
        attachments.discard(blobs)
        raise
    return PostOutcome(
        PostResult.CREATED,
        log,
        parsed.mode,
        record=record,
        warnings=post.warnings,
        servicing_agent=record.servicing_agent,
        routing=record.routing,
    )


def _prepare(
    config: AccountConfig,
    form: DecodedForm,
    received_at: dt.datetime,
    client: Client,
    dry_run: bool,
    envelope_warnings: list[Problem],
) -> _Post:
    """Everything about a post that needs no write: parsed, matched against the account's data."""
    account = config.account
    sent, ssn_warnings = mask_ssn_shapes(form.params)
    parsed = parse_lead(
        sent,
        RecordType(account.record_mode),
        ParseConfig(received_on=account.local_date(received_at)),
    )
    log_fields = _log_fields(
        config.url,
        received_at=received_at,
        client=client,
        params=redact_params(sent, masked=True),
        record_mode=parsed.mode,
        dry_run=dry_run,
    )
    warnings = [*envelope_warnings, *form.warnings, *ssn_warnings, *parsed.warnings]
    if parsed.rejected:
        return _Post(config, parsed, {}, {}, {}, [], False, warnings, log_fields, received_at)
    wanted_lists = dict(parsed.lists)
    if ListName.LEAD_SOURCE not in wanted_lists and config.url.default_lead_source:
        wanted_lists[ListName.LEAD_SOURCE] = config.url.default_lead_source
    sales = parsed.mode == RecordType.SALES_RECORD
    names = _agent_names(parsed)
    agents, agent_problems = match_agents(config.agents(names), names, sales_enablement=sales)
    custom, custom_problems = check_custom_values(
        config.custom_fields(parsed.mode), parsed.mode, parsed.custom
    )
    routes = parsed.auto_route and sales and account.premium_workflows
    config.webhook_types()  # read now, not under the record's write lock (kept between posts)
    warnings += agent_problems + _routing_warnings(parsed, routes) + custom_problems
    return _Post(
        config,
        parsed,
        wanted_lists,
        config.list_values(wanted_lists),
        agents,
        custom,
        routes,
        warnings,
        log_fields,
        received_at,
        NO_LOOKUP if dry_run else _possible_duplicate(config, parsed, received_at),
    )


def _possible_duplicate(
    config: AccountConfig, parsed: ParsedLead, received_at: dt.datetime
) -> Lookup:
    """SPEC §14: the earlier record of another URL this lead may duplicate.

    Looked up here, before `store_lead`'s transaction, and not inside it or after it (measured:
    bench/README.md, "Cross-vendor duplicates"): inside, on SQLite, the read would hold the one
    write lock every post needs; after, the flag would need an UPDATE of the new row and a
    second transaction. Here it is one read with no lock, and the flag rides in the INSERT. A
    dry run makes no look-up: its answer would say nothing of it anyway (the vendor's answer
    never reveals the flag). A window of 0 turns the look-up off, and the keys' writes with it."""
    days = config.account.duplicate_window_days
    if not days:
        return NO_LOOKUP
    keys = keys_of(parsed.fields, ssn_index(parsed.ssn) if parsed.ssn else "")
    return find_duplicate(
        config.account.pk,
        config.url.pk,
        keys,
        received_at=received_at,
        window=dt.timedelta(days=days),
    )


@transaction.atomic(durable=True)
def store_lead(post: _Post, blobs: Blobs) -> tuple[Record, PostLog]:
    """The record, everything the post carries and its post-log row, in one transaction."""
    # Nothing of `post` is changed until the end: if the transaction fails, `_salvage` starts
    # from it. The record is built (its SSN encrypted) before the first write: on SQLite the
    # transaction holds the one write lock, and every millisecond under it is one no other post
    # can use (bench/README.md).
    record = _record_from(post, post.lists)
    lists = post.lists
    if len(lists) < len(post.wanted_lists):
        lists = ensure_list_values(post.config.account, post.wanted_lists, lists)
        _set_lists(record, lists)
        post.config.remember_list_values({n: v for n, v in lists.items() if n not in post.lists})
    warnings = list(post.warnings)
    facts = post.facts(lists)
    if post.routes:
        decision = route(post.config.account, facts, today=post.today)
        apply_decision(record, decision, at=post.received_at, today=post.today)
        warnings += _unrouted_warnings(decision)
    fastsql.insert(record)
    _write_match_keys(post, record)
    if post.parsed.consent:  # most posts carry none, and then cost no statement (SPEC §14)
        store_evidence(record.pk, post.config.account, post.parsed.consent, now=post.received_at)
    store_custom_values(record, post.custom)
    if post.workflows:
        run_workflows(record, facts, at=post.received_at, today=post.today)
    attachments.add_notes(record, post.parsed.notes, blobs, now=post.received_at, new_record=True)
    warnings = _settle_agent_warnings(warnings, record.servicing_agent, record.routing)
    # Counted last: on PostgreSQL the period's row stays locked until the commit, and posts of
    # the same capped URL wait for it; everything before runs alongside them.
    _take_cap(post)
    log = PostLog(
        **post.log_fields,
        status_code=200,
        result=PostResult.CREATED,
        answer_us=_elapsed_us(post.received_at),
        record=record,
        warnings=[w.as_json() for w in warnings],
    )
    fastsql.insert(log)
    _deliver(post, record)
    post.warnings = warnings
    return record, log


def _take_cap(post: _Post) -> None:
    """Count the record against the URL's caps, or abandon the transaction when one is full."""
    hit = caps.take(post.url, post.config.account, post.received_at)
    if hit is not None:
        raise _OverCap(hit)


def _over_cap(post: _Post, hit: CapHit) -> PostOutcome:
    """A post over its URL's cap, logged as such (SPEC §14): no record, nothing counted."""
    error = hit.problem()
    log = _log(
        post.log_fields,
        status=429,
        result=PostResult.OVER_CAP,
        warnings=post.warnings,
        errors=[error],
    )
    return PostOutcome(
        PostResult.OVER_CAP,
        log,
        post.parsed.mode,
        warnings=post.warnings,
        errors=[error],
        cap=hit,
    )


def _deliver(post: _Post, record: Record) -> None:
    """What a new record sends out (SPEC §12), in its transaction: its webhook events, and the
    e-mail to its agent, however it got one (named, routed, or by a workflow)."""
    assigned = record.servicing_agent_id is not None
    record_events(
        record.account_id, record.pk, assigned=assigned, subscribed=post.config.webhook_types()
    )
    if assigned:
        request_notification(record, first=not post.workflows)


def _record_from(
    post: _Post, lists: dict[ListName, ListValue], *, fields: dict[str, object] | None = None
) -> Record:
    parsed = post.parsed
    record = Record(
        account=post.config.account,
        lead_post_url=post.url,
        record_type=parsed.mode,
        created_at=post.received_at,
        external_id=parsed.external_id,
        **(parsed.fields if fields is None else fields),
    )
    _set_lists(record, lists)
    if parsed.ssn and fields is None:
        record.ssn_encrypted = encrypt_ssn(parsed.ssn)
        record.ssn_index = ssn_index(parsed.ssn)
    duplicate = post.duplicate.duplicate
    if duplicate is not None and fields is None:
        record.duplicate_of_id = duplicate.record_id
        record.duplicate_matched = duplicate.stored
    record.servicing_agent = post.agents.get("servicingAgent")
    record.lead_source_agent = post.agents.get("leadSourceAgent")
    return record


def _set_lists(record: Record, lists: dict[ListName, ListValue]) -> None:
    for name, value in lists.items():
        setattr(record, _LIST_FIELDS[name], value)


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


def _refused(parameter: str | None, what: str) -> Problem:
    return Problem(
        parameter,
        "not_stored",
        f"{what} could not be stored (the database refused it); the lead was stored without it "
        "and the post log keeps what was sent",
    )


@transaction.atomic(durable=True)
def _salvage(post: _Post, blobs: Blobs) -> tuple[Record, PostLog]:
    """Store the lead when the whole of it could not be: the names first, then each other part in
    a savepoint of its own, dropping (and warning) only the parts the database refuses."""
    parsed = post.parsed
    essential = {k: v for k, v in parsed.fields.items() if k in ("first_name", "last_name")}
    account = post.config.account
    # Read again: rows the failed transaction created are gone with it.
    lists = find_list_values(account, post.wanted_lists)
    record = _record_from(post, lists, fields=essential)
    record.save(force_insert=True)
    _take_cap(post)
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
    # The flag and the keys are the agency's, never the vendor's (SPEC §14): refused, they are
    # dropped without a warning in the answer, only the server log says so.
    if post.duplicate.duplicate is not None:
        _try(_set_flag, record, post.duplicate.duplicate)
    _try(_write_match_keys, post, record)
    for name, value in post.wanted_lists.items():
        if name in lists:
            continue
        made: dict[ListName, ListValue] = {}
        if _try(_add_list_value, record, name, value, made):
            _set_lists(record, made)
            lists.update(made)
        else:
            refused.append(_refused(_LIST_PARAMETERS[name], _LIST_PARAMETERS[name]))
    if parsed.consent and not _try(
        store_evidence, record.pk, account, parsed.consent, now=post.received_at
    ):
        refused.append(_refused(None, "The consent evidence"))
    for custom_field, checked in post.custom:
        if not _try(store_custom_values, record, [(custom_field, checked)]):
            refused.append(_refused(f"custom_{custom_field.name}", f"custom_{custom_field.name}"))
    post.lists = lists
    facts = post.facts()
    if post.routes and not _try(_route, post, record, facts):
        refused.append(_refused("servicingAgentFirstName", "The routing decision"))
    if post.workflows and not _try(
        run_workflows, record, facts, at=post.received_at, today=post.today
    ):
        refused.append(_refused(None, "The Sales Workflows' work"))
    for note in parsed.notes:
        if not _try(_add_note, record, note, blobs, post.received_at):
            refused.append(
                _refused(f"attachment_note_{note.number}_body_text", f"Note {note.number}")
            )
    if not _try(_deliver, post, record):
        refused.append(_refused(None, "The webhook events and the agent's e-mail"))
    post.warnings = _settle_agent_warnings(
        [*post.warnings, *refused], record.servicing_agent, record.routing
    )
    log = _log(
        post.log_fields,
        status=200,
        result=PostResult.CREATED,
        warnings=post.warnings,
        record=record,
    )
    return record, log


def _set_field(record: Record, name: str, value: object) -> None:
    Record.objects.filter(pk=record.pk).update(**{name: value})


def _write_match_keys(post: _Post, record: Record) -> None:
    """The keys of the lead its URL has not sent in the last day (SPEC §14): one INSERT, or none."""
    write_keys(record.account_id, post.url.pk, record.pk, post.received_at, post.duplicate.new_keys)


def _set_flag(record: Record, duplicate: Duplicate) -> None:
    _set_field(record, "duplicate_of_id", duplicate.record_id)
    _set_field(record, "duplicate_matched", duplicate.stored)
    record.duplicate_of_id = duplicate.record_id
    record.duplicate_matched = duplicate.stored


def _add_list_value(
    record: Record, name: ListName, value: str, made: dict[ListName, ListValue]
) -> None:
    made.update(ensure_list_values(record.account, {name: value}, {}))
    Record.objects.filter(pk=record.pk).update(**{_LIST_FIELDS[name]: made[name]})


def _route(post: _Post, record: Record, facts: LeadFacts) -> None:
    decision = route(post.config.account, facts, today=post.today)
    apply_decision(record, decision, at=post.received_at, today=post.today)
    record.save(update_fields=["servicing_agent", "routing", "routed_on"])
    post.warnings += _unrouted_warnings(decision)


def _add_note(record: Record, note: ParsedNote, blobs: Blobs, now: dt.datetime) -> None:
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


def _duplicate(post: _Post) -> PostOutcome | None:
    """A post whose externalID is already taken, logged as such; None when it is not taken."""
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
            post.log_fields,
            status=200,
            result=PostResult.DUPLICATE,
            warnings=post.warnings,
            record=existing,
        )
    return PostOutcome(
        PostResult.DUPLICATE,
        log,
        RecordType(existing.record_type),
        record=existing,
        warnings=post.warnings,
        external_id=external_id,
    )


def _dry_run(post: _Post) -> PostOutcome:
    """SPEC §3 dry run: everything a real post would do, reported, nothing stored but the log."""
    parsed = post.parsed
    decision = None
    unassigned = "servicingAgent" not in post.agents
    if post.routes or (
        unassigned and post.workflows and workflows_would_route(post.config.account, post.facts())
    ):
        decision = route(post.config.account, post.facts(), today=post.today, dry_run=True)
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
    # What a real post would meet: a duplicate is answered as one whatever the caps say.
    hit = (
        None
        if existing is not None
        else caps.reached(post.url, post.config.account, post.received_at)
    )
    log = _log(post.log_fields, status=200, result=PostResult.TEST, warnings=warnings)
    return PostOutcome(
        PostResult.TEST,
        log,
        parsed.mode,
        record=existing,
        warnings=warnings,
        servicing_agent=post.agents.get("servicingAgent"),
        lead_source_agent=post.agents.get("leadSourceAgent"),
        routing=routing,
        new_list_values=[
            (name, value) for name, value in post.wanted_lists.items() if name not in post.lists
        ],
        cap=hit,
        consent=parsed.consent,
    )
