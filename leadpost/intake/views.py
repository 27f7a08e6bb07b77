"""The Lead Post endpoint: HTTP only (method, content type, size, token, rate limit).

Everything about the lead itself happens in `actions.receive_lead`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from leadpost.intake import actions
from leadpost.intake.actions import Client, Outcome
from leadpost.intake.form import decode_form, text_encoding
from leadpost.intake.lead import Problem
from leadpost.intake.models import LeadPostUrl, PostResult
from leadpost.intake.ratelimit import allow_post
from leadpost.lib.tokens import hash_token

logger = logging.getLogger(__name__)

FORM_TYPE = "application/x-www-form-urlencoded"


def _json(
    status: int, body: dict[str, Any], post_id: int | None = None, **headers: str
) -> JsonResponse:
    response = JsonResponse(body, status=status)
    if post_id is not None:
        response["X-Lead-Post-Id"] = str(post_id)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    response["Cache-Control"] = "no-store"
    return response


def _respond(outcome: Outcome) -> JsonResponse:
    return _json(outcome.status, outcome.body, outcome.post_id, **outcome.headers)


def _unavailable() -> JsonResponse:
    retry = str(settings.LEADPOST_RETRY_AFTER_SECONDS)
    body = {
        "result": "error",
        "errors": [
            {
                "field": None,
                "code": "unavailable",
                "message": "The lead could not be stored right now; nothing was kept. "
                f"Post it again in {retry} seconds.",
            }
        ],
    }
    return _json(503, body, Retry_After=retry)


def client_of(request: HttpRequest) -> Client:
    ip = request.META.get("REMOTE_ADDR") or None
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        # Behind our load balancer, the last X-Forwarded-For hop is the one it appended; earlier
        # hops are whatever the client claimed.
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            ip = hops[-1]
    return Client(ip=ip, user_agent=request.META.get("HTTP_USER_AGENT", "")[:1000])


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
    if request.method != "POST":
        body = {
            "result": "error",
            "errors": [
                {
                    "field": None,
                    "code": "method_not_allowed",
                    "message": f"{request.method} is not accepted here: post the lead with POST.",
                }
            ],
        }
        return _json(405, body, Allow="POST")
    try:
        return _lead_post(request, token, dry_run)
    except DatabaseError as exc:
        if isinstance(exc, IntegrityError):
            raise
        # The database is locked past the busy timeout, restarting, or out of reach: the vendor
        # must retry, and must not read a 500 as "our fault, give up" (SPEC §3).
        logger.warning("lead post not stored, database unavailable: %s", type(exc).__name__)
        return _unavailable()


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _refusal(
    request: HttpRequest,
    url: LeadPostUrl,
    media: str,
    charset: str | None,
    received_at: dt.datetime,
) -> tuple[int, PostResult, Problem] | None:
    """Why the envelope of a post to a known URL is refused before its body is read, if it is."""
    length = _declared_length(request)
    # An empty body without a Content-Type (curl -X POST 'URL?firstName=...') is an empty form:
    # the vendor learns from the 400 that the query string is ignored, not about media types.
    if media == "" and length == 0:
        media = FORM_TYPE
    if media != FORM_TYPE:
        message = f'Content-Type must be {FORM_TYPE}, not "{media or "(none)"}".'
        return (
            415,
            PostResult.UNSUPPORTED_MEDIA_TYPE,
            Problem(None, "unsupported_media_type", message),
        )
    if charset is not None:
        try:
            text_encoding(charset)
        except LookupError:
            message = f'Unknown charset "{charset[:40]}": send UTF-8 or an ASCII-based charset.'
            return (
                415,
                PostResult.UNSUPPORTED_MEDIA_TYPE,
                Problem(None, "unsupported_charset", message),
            )
    limit = settings.LEADPOST_MAX_BODY_BYTES
    if length > limit:
        # Refused on the declared length alone: the body is never read (SPEC §2).
        message = f"The body is {length} bytes; the limit is {limit} bytes."
        return 413, PostResult.TOO_LARGE, Problem(None, "too_large", message)
    rate = url.effective_rate_limit
    if rate and not allow_post(url, received_at, rate):
        message = f"This Lead Post URL accepts {rate} posts a minute; post again after the minute."
        return 429, PostResult.RATE_LIMITED, Problem(None, "rate_limited", message)
    return None


def _lead_post(request: HttpRequest, token: str, dry_run: bool) -> JsonResponse:
    url = (
        LeadPostUrl.objects.select_related("account")
        .filter(token_hash=hash_token(token), enabled=True)
        .first()
    )
    if url is None:
        # Unknown and disabled URLs get the same answer, so a token cannot be probed (SPEC §3).
        body = {
            "result": "error",
            "errors": [{"field": None, "code": "unknown_url", "message": "No Lead Post URL here."}],
        }
        return _json(404, body)

    received_at = timezone.now()
    client = client_of(request)
    media, charset = _content_type(request)
    refusal = _refusal(request, url, media, charset, received_at)
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
        if status == 429:
            outcome.headers["Retry-After"] = str(60 - received_at.second)
        return _respond(outcome)

    form = decode_form(request.body, charset)
    envelope: list[Problem] = []
    if request.GET:
        names = ", ".join(sorted(request.GET.keys())[:10])
        envelope.append(
            Problem(
                None,
                "query_string_ignored",
                f"Parameters in the query string are ignored ({names}); post them in the body.",
            )
        )
    outcome = actions.receive_lead(
        url,
        form,
        received_at=received_at,
        client=client,
        dry_run=dry_run,
        envelope_warnings=envelope,
    )
    return _respond(outcome)
