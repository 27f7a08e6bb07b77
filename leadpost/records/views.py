"""The read API (SPEC §11): JSON, authenticated by per-account bearer tokens.

Every query is filtered by the token's account, so another account's record is a plain 404.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

from leadpost.accounts.models import ApiToken
from leadpost.lib.tokens import hash_token
from leadpost.records.models import Attachment, AttachmentState, Record
from leadpost.records.serialize import RECORD_PREFETCH, RECORD_RELATED, record_json

View = Callable[..., HttpResponseBase]


def _error(status: int, code: str, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": message}}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def api_token_required(view: View) -> View:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method != "GET":
            return _error(405, "method_not_allowed", "The read API is read-only.", Allow="GET")
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        api_token = None
        if scheme.lower() == "bearer" and token.strip():
            api_token = (
                ApiToken.objects.select_related("account")
                .filter(token_hash=hash_token(token.strip()), revoked_at__isnull=True)
                .first()
            )
        if api_token is None:
            return _error(
                401,
                "unauthorized",
                "Send a valid API token: Authorization: Bearer <token>.",
                WWW_Authenticate='Bearer realm="leadpost"',
            )
        now = timezone.now()
        # Written at most once a minute per token, not on every read.
        if api_token.last_used_at is None or (now - api_token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        request.api_account = api_token.account  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


@api_token_required
def record_detail(request: HttpRequest, record_id: int) -> HttpResponse:
    record = (
        Record.objects.select_related(*RECORD_RELATED)
        .prefetch_related(*RECORD_PREFETCH)
        .filter(account=request.api_account, pk=record_id)  # type: ignore[attr-defined]
        .first()
    )
    if record is None:
        return _error(404, "not_found", f"No record {record_id} in this account.")
    return JsonResponse(record_json(record))


@api_token_required
def record_list(request: HttpRequest) -> HttpResponse:
    """Records with an id above `after`, oldest first: pass back `nextCursor` to get newer ones."""
    try:
        after = int(request.GET.get("after", "0") or 0)
        limit = int(request.GET.get("limit", settings.LEADPOST_API_PAGE_SIZE))
    except ValueError:
        return _error(400, "invalid_parameter", "`after` and `limit` must be integers.")
    limit = max(1, min(limit, 1000))
    rows = list(
        Record.objects.select_related(*RECORD_RELATED)
        .prefetch_related(*RECORD_PREFETCH)
        .filter(account=request.api_account, pk__gt=after)  # type: ignore[attr-defined]
        .order_by("pk")[: limit + 1]
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = rows[-1].pk if rows else after
    return JsonResponse(
        {
            "records": [record_json(r) for r in rows],
            "nextCursor": next_cursor,
            "hasMore": has_more,
        }
    )


@api_token_required
def attachment_content(request: HttpRequest, attachment_id: int) -> HttpResponseBase:
    """The bytes of a stored attachment, as a download."""
    attachment = (
        Attachment.objects.filter(
            pk=attachment_id,
            note__record__account=request.api_account,  # type: ignore[attr-defined]
        )
        .only("file", "file_name", "state", "content_type")
        .first()
    )
    if attachment is None:
        return _error(404, "not_found", f"No attachment {attachment_id} in this account.")
    if attachment.state != AttachmentState.STORED:
        return _error(
            409, "not_stored", f"Attachment {attachment_id} is {attachment.state}, not stored."
        )
    return FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.file_name,
        content_type=attachment.content_type or "application/octet-stream",
    )
