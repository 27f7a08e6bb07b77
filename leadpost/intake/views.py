"""The Lead Post endpoint: HTTP only (method, content type, body, token, rate limit).

Everything about the lead itself happens in `actions.receive_lead`. Every answer to a path under
/leadpost/ is JSON (SPEC §2), and every answer to a known URL is in the post log (SPEC §9).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from leadpost.accounts.models import User
from leadpost.consent.present import evidence_json
from leadpost.intake import actions
from leadpost.intake.actions import Client, PostOutcome
from leadpost.intake.config import config_for
from leadpost.intake.form import decode_form, replace_controls, text_encoding
from leadpost.intake.lead import DecodedForm
from leadpost.intake.models import LeadPostUrl, PostResult
from leadpost.intake.ratelimit import allow_post
from leadpost.intake.redact import mask_token
from leadpost.lib.choices import RecordType
from leadpost.lib.clientaddr import client_ip
from leadpost.lib.dberrors import is_passing
from leadpost.lib.jsonlog import current_post_id
from leadpost.lib.metrics import count_post
from leadpost.lib.problems import Problem
from leadpost.lib.requestbody import BodyState, RequestBody, read_body
from leadpost.lib.tokens import hash_token

logger = logging.getLogger(__name__)

FORM_TYPE = "application/x-www-form-urlencoded"
# RFC 9110 token characters: what a charset name may be made of.
_CHARSET_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,40}")
# The metrics' result of a post to no known URL (no post-log row: SPEC §9 logs known URLs only).
UNKNOWN_URL = "unknown_url"


def _json(
    status: int, body: dict[str, Any], post_id: int | None = None, **headers: str
) -> JsonResponse:
    response = JsonResponse(body, status=status)
    if post_id is not None:
        response["X-Lead-Post-Id"] = str(post_id)
        current_post_id.set(post_id)  # what this request logs from here on carries it
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    response["Cache-Control"] = "no-store"
    return response


@dataclass(frozen=True, slots=True)
class Answer:
    """The HTTP answer to a post: status, JSON body (SPEC §3) and extra headers."""

    status: int
    body: dict[str, Any]
    post_id: int
    headers: dict[str, str]


def _agent_json(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "firstName": user.first_name, "lastName": user.last_name}


def _record_type_json(record_type: str) -> str:
    return "salesRecord" if record_type == RecordType.SALES_RECORD else "individual"


def answer(outcome: PostOutcome) -> Answer:
    """What a vendor is answered for what became of its post (SPEC §3); the status is the one the
    post log recorded."""
    log = outcome.log
    warnings = [w.as_json() for w in outcome.warnings]
    body: dict[str, Any]
    match outcome.result:
        case PostResult.CREATED:
            assert outcome.record is not None
            body = {
                "result": "created",
                "postId": log.pk,
                "recordType": _record_type_json(outcome.record_type),
                "recordId": outcome.record.pk,
                "servicingAgent": _agent_json(outcome.servicing_agent),
                "warnings": warnings,
            }
            if outcome.routing is not None:
                body["routing"] = outcome.routing
        case PostResult.DUPLICATE:
            assert outcome.record is not None
            body = {
                "result": "duplicate",
                "postId": log.pk,
                "recordType": _record_type_json(outcome.record_type),
                "recordId": outcome.record.pk,
                "message": f'externalID "{outcome.external_id}" was already posted to this '
                "account; no new record was made.",
                "warnings": warnings,
            }
        case PostResult.TEST:
            would_be = (
                "duplicate"
                if outcome.record is not None
                else "over_cap"
                if outcome.cap is not None
                else "created"
            )
            body = {
                "result": "test",
                "postId": log.pk,
                "recordType": _record_type_json(outcome.record_type),
                "wouldBe": would_be,
                "recordId": outcome.record.pk if outcome.record is not None else None,
                "servicingAgent": _agent_json(outcome.servicing_agent),
                "leadSourceAgent": _agent_json(outcome.lead_source_agent),
                "routing": outcome.routing,
                "newListValues": [
                    {"list": str(name), "value": value} for name, value in outcome.new_list_values
                ],
                "warnings": warnings,
            }
            if outcome.consent:
                body["consent"] = evidence_json(outcome.consent)
            if outcome.cap is not None:
                body["cap"] = outcome.cap.as_json()
        case PostResult.OVER_CAP:
            assert outcome.cap is not None
            body = {
                "result": "over_cap",
                "postId": log.pk,
                "errors": [e.as_json() for e in outcome.errors],
                "cap": outcome.cap.as_json(),
            }
        case PostResult.REJECTED:
            body = {
                "result": "rejected",
                "postId": log.pk,
                "errors": [e.as_json() for e in outcome.errors],
                "warnings": warnings,
            }
        case _:
            body = {
                "result": "error",
                "postId": log.pk,
                "errors": [e.as_json() for e in outcome.errors],
            }
    headers: dict[str, str] = {}
    if outcome.cap is not None and outcome.result == PostResult.OVER_CAP:
        # Until the next period of the account's time zone begins (SPEC §14).
        headers["Retry-After"] = str(outcome.cap.retry_after(log.received_at))
    elif log.status_code in (429, 503):
        headers["Retry-After"] = str(
            60 - log.received_at.second
            if log.status_code == 429
            else settings.LEADPOST_RETRY_AFTER_SECONDS
        )
    if log.status_code == 405:
        headers["Allow"] = "POST"
    return Answer(log.status_code, body, log.pk, headers)


def _respond(outcome: PostOutcome) -> JsonResponse:
    count_post(outcome.log.lead_post_url_id, outcome.result)
    given = answer(outcome)
    return _json(given.status, given.body, given.post_id, **given.headers)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"result": "error", "errors": [{"field": None, "code": code, "message": message}]}


def _unavailable(post_id: int | None = None, reason: str = "") -> JsonResponse:
    retry = str(settings.LEADPOST_RETRY_AFTER_SECONDS)
    body = _error(
        "unavailable",
        (reason or "The lead could not be stored right now")
        + f"; nothing was kept. Post it again in {retry} seconds.",
    )
    if post_id is not None:
        body["postId"] = post_id
    return _json(503, body, post_id, Retry_After=retry)


def client_of(request: HttpRequest) -> Client:
    user_agent = replace_controls(str(request.META.get("HTTP_USER_AGENT", ""))[:1000])
    return Client(ip=client_ip(request.META), user_agent=user_agent)


def _content_type(request: HttpRequest) -> tuple[str, str | None]:
    raw = request.META.get("CONTENT_TYPE", "")
    media, _, rest = raw.partition(";")
    charset = None
    for part in rest.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return media.strip().lower(), charset


@csrf_exempt
def lead_post(request: HttpRequest, token: str, dry_run: bool = False) -> JsonResponse:
    try:
        return _lead_post(request, token, dry_run)
    except DatabaseError as exc:
        if not is_passing(exc):
            raise
        # The database is locked past the busy timeout, restarting, or out of reach: the vendor
        # must retry, and must not read a 500 as "our fault, give up" (SPEC §3).
        logger.warning("lead post not stored, database unavailable: %s", type(exc).__name__)
        count_post(None, PostResult.UNAVAILABLE)
        return _unavailable()


@csrf_exempt
def no_such_url(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other path under /leadpost/: the JSON 404 of an unknown URL (SPEC §2, §3)."""
    count_post(None, UNKNOWN_URL)
    return _json(404, _error("unknown_url", "No Lead Post URL here."))


def _envelope_refusal(
    request: HttpRequest, body: RequestBody, url: LeadPostUrl, received_at: dt.datetime
) -> tuple[int, PostResult, Problem] | None:
    """Why a post to a known URL is refused before its parameters are read, if it is."""
    limit = settings.LEADPOST_MAX_BODY_BYTES
    size = body.declared if body.declared is not None else body.received
    if body.state is BodyState.TOO_LARGE:
        # Refused without reading the rest (SPEC §2).
        shown = f"{size} bytes" if body.declared is not None else f"over {limit} bytes"
        message = f"The body is {shown}; the limit is {limit} bytes."
        return 413, PostResult.TOO_LARGE, Problem(None, "too_large", message)
    if body.state is BodyState.CUT_SHORT:
        expected = f" of the {body.declared} its Content-Length announced" if body.declared else ""
        message = (
            f"The body ended after {body.received} bytes{expected}: the connection closed "
            "before the post was complete. Nothing was stored; post it again."
        )
        return 400, PostResult.CUT_SHORT, Problem(None, "cut_short", message)
    if body.state is BodyState.TIMED_OUT:
        message = (
            f"The body did not arrive within {settings.LEADPOST_BODY_TIMEOUT} seconds "
            f"({body.received} bytes came). Nothing was stored; post it again."
        )
        return 408, PostResult.CUT_SHORT, Problem(None, "timed_out", message)
    if body.state is BodyState.BUSY:
        message = "The server holds too many large posts right now; nothing was stored"
        return 503, PostResult.UNAVAILABLE, Problem(None, "unavailable", message)

    media, charset = _content_type(request)
    # An empty body without a Content-Type (curl -X POST 'URL?firstName=...') is an empty form:
    # the vendor learns from the 400 that the query string is ignored, not about media types.
    if media == "" and body.received == 0:
        media = FORM_TYPE
    if media != FORM_TYPE:
        message = f'Content-Type must be {FORM_TYPE}, not "{media[:80] or "(none)"}".'
        return (
            415,
            PostResult.UNSUPPORTED_MEDIA_TYPE,
            Problem(None, "unsupported_media_type", message),
        )
    if charset is not None:
        try:
            if not _CHARSET_NAME.fullmatch(charset):
                raise LookupError(charset)
            text_encoding(charset)
        except LookupError:
            message = (
                f"Unknown charset {replace_controls(charset[:40])!r}: send UTF-8 or an "
                "ASCII-based charset."
            )
            return (
                415,
                PostResult.UNSUPPORTED_MEDIA_TYPE,
                Problem(None, "unsupported_charset", message),
            )
    rate = url.effective_rate_limit
    if rate and not allow_post(url, received_at, rate):
        message = f"This Lead Post URL accepts {rate} posts a minute; post again after the minute."
        return 429, PostResult.RATE_LIMITED, Problem(None, "rate_limited", message)
    return None


def _lead_post(request: HttpRequest, token: str, dry_run: bool) -> JsonResponse:
    config = config_for(hash_token(token))
    if config is None:
        # Unknown and disabled URLs get the same answer, so a token cannot be probed (SPEC §3).
        count_post(None, UNKNOWN_URL)
        return _json(404, _error("unknown_url", "No Lead Post URL here."))

    url = config.url
    received_at = timezone.now()
    client = client_of(request)
    if request.method != "POST":
        method = replace_controls(str(request.method))[:20]
        error = Problem(
            None, "method_not_allowed", f"{method} is not accepted here: post the lead with POST."
        )
        outcome = actions.log_refused_post(
            url,
            status=405,
            result=PostResult.METHOD_NOT_ALLOWED,
            error=error,
            received_at=received_at,
            client=client,
            dry_run=dry_run,
        )
        return _respond(outcome)

    body = read_body(request, settings.LEADPOST_MAX_BODY_BYTES)
    refusal = _envelope_refusal(request, body, url, received_at)
    if refusal is not None:
        status, result, error = refusal
        outcome = actions.log_refused_post(
            url,
            status=status,
            result=result,
            error=error,
            received_at=received_at,
            client=client,
            dry_run=dry_run,
        )
        if status == 503:
            count_post(url.pk, result)
            return _unavailable(outcome.log.pk, error.message)
        return _respond(outcome)

    form = decode_form(body.data, _content_type(request)[1])
    params, token_warnings = mask_token(form.params, token)
    if token_warnings:
        form = DecodedForm(params, [*form.warnings, *token_warnings])
    envelope: list[Problem] = []
    if request.GET:
        names = ", ".join(replace_controls(name) for name in sorted(request.GET.keys())[:10])
        envelope.append(
            Problem(
                None,
                "query_string_ignored",
                f"Parameters in the query string are ignored ({names}); post them in the body.",
            )
        )
    outcome = actions.receive_lead(
        config,
        form,
        received_at=received_at,
        client=client,
        dry_run=dry_run,
        envelope_warnings=envelope,
    )
    return _respond(outcome)
