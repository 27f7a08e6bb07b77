"""The read API (SPEC §11): JSON, authenticated by per-account bearer tokens.

Every query is filtered by the token's account, so another account's record is a plain 404.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import NotSupportedError, models
from django.db.models import prefetch_related_objects
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

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
    # CSRF-exempt: a token in a header, never a cookie, authenticates here, so no other site can
    # make a browser send a request in a user's name. Without it, every method but GET got
    # Django's CSRF page (an HTML 403) instead of the API's JSON 405 (found by Schemathesis).
    @csrf_exempt
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


# ------------------------------------------------------------------ the list's cursor
#
# A reader polling with the cursor never misses a record (SPEC §11). Ids alone do not give that on
# PostgreSQL: a transaction takes its record's id at insert and may commit after a transaction
# that took a higher id, so a reader that passed the higher id would never see the lower one. So:
#
# - Every record carries the id of the transaction that wrote it (`Record.txid`, set by the
#   database), and the cursor order is (txid, id). A cursor is the position of the last record a
#   reader was given, "<txid>.<id>", opaque to readers.
# - A reader is shown only records whose txid is below the horizon: on PostgreSQL the xmin of the
#   statement's own snapshot, `pg_snapshot_xmin(pg_current_snapshot())`. Every transaction below
#   it has finished, so its records are all committed and visible to that statement; and nothing
#   can be added below it later: a transaction still running has an id at or above it, one yet to
#   start gets a higher one. So what a reader is shown is always a complete prefix of the cursor
#   order, and whatever it has not been shown yet sorts after its cursor: it never skips. The
#   horizon only ever moves up (what is finished stays finished), so a later statement's prefix
#   contains an earlier one's.
# - The cost: a transaction that has written something and stays open holds back every record
#   whose transaction started after it, in every database of the PostgreSQL server (transaction
#   ids are the server's), until it ends. Readers get those records late, never lose them.
#   Read-only transactions (reports, pg_dump) hold nothing back. Against forgotten sessions,
#   PostgreSQL's idle_in_transaction_session_timeout; a forgotten prepared transaction holds back
#   until it is committed or rolled back.
# - Each request reads in autocommit. A reader inside a transaction that has written anything
#   would see nothing of transactions that began after it (its own id bounds the horizon), its
#   own records included: tests that read the list must commit what they wrote.
# - SQLite has one writer at a time: a record's id is taken under the write lock held until
#   commit, so ids commit in order. txid is 0 there and the horizon is above everything: the same
#   queries give id order.
# - Records from before the txid column have 0: they come first, in id order, as they always did.

BIGINT_MAX = 2**63 - 1
# ASCII digits only: no sign, space or underscore, at most 19 of them, and checked against
# BIGINT_MAX before any of it reaches the database.
_NUMBER = "[0-9]{1,19}"
_POSITION = re.compile(rf"({_NUMBER})\.({_NUMBER})")
_RECORD_ID = re.compile(_NUMBER)


@dataclass(frozen=True)
class Position:
    """A place in the cursor order: the (txid, id) of the last record a reader was given."""

    txid: int
    id: int

    def __str__(self) -> str:
        return f"{self.txid}.{self.id}"


# Before every record: txids and ids are never negative, and no record has id 0.
START = Position(0, 0)


class CommittedHorizon(models.Expression):
    """The txid below which every writing transaction has finished, as of this statement."""

    output_field = models.BigIntegerField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, tuple[Any, ...]]:
        raise NotSupportedError(f"the read API's cursor has no horizon for {connection.vendor}")

    def as_postgresql(
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, tuple[Any, ...]]:
        return "pg_snapshot_xmin(pg_current_snapshot())::text::bigint", ()

    def as_sqlite(
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, tuple[Any, ...]]:
        # Above every txid (all 0): a committed record is a finished one.
        return str(BIGINT_MAX), ()


def parse_after(value: str) -> Position | int:
    """`after` as sent: empty for the start, a `nextCursor`, or a record id (the integer cursor of
    the previous version of the API). Raises ValueError for anything else."""
    if value == "":
        return START
    if match := _POSITION.fullmatch(value):
        txid, record_id = int(match[1]), int(match[2])
        if txid <= BIGINT_MAX and record_id <= BIGINT_MAX:
            return Position(txid, record_id)
    elif _RECORD_ID.fullmatch(value) and int(value) <= BIGINT_MAX:
        return int(value)
    raise ValueError(value)


def _position_after_id(records: models.QuerySet[Record], record_id: int) -> Position | None:
    """Where an integer cursor is in the cursor order; None while no record above it is listable.

    An integer cursor meant "the records with a higher id", and still does, whether or not the id
    is one of this account's records. Record N's own position would not do: a transaction that
    started writing before N's and inserted after it has a higher id and a lower txid, and would
    be skipped. So the position is (m, N), m the lowest txid below the horizon of a record above
    N: every record above N, now or later, sorts after it (a later one has a txid at or above the
    horizon, or on SQLite 0 and a higher id). Records at or below N that committed late may come
    again; none above N is missed.
    """
    lowest = (
        records.filter(pk__gt=record_id, txid__lt=CommittedHorizon())
        .aggregate(lowest=models.Min("txid"))
        .get("lowest")
    )
    return None if lowest is None else Position(lowest, record_id)


def _page(records: models.QuerySet[Record], after: Position, count: int) -> list[Record]:
    """The first `count` records after `after` in cursor order, below the horizon.

    Two index seeks, the rest of transaction `after.txid`, then the transactions after it, rather
    than one `(txid, id) > (t, i)`: SQLite seeks on txid alone for that, and would read every
    record before the position (on SQLite all have txid 0; so have all from before the column).
    Two statements see two horizons, which is safe for every position this API hands out: its
    txid was below a horizon already, so that transaction had finished and the first seek has all
    of its records; the second is a complete prefix from there up to its own horizon.
    """
    visible = records.filter(txid__lt=CommittedHorizon()).select_related(*RECORD_RELATED)
    rows = list(visible.filter(txid=after.txid, pk__gt=after.id).order_by("pk")[:count])
    if len(rows) < count:
        later = visible.filter(txid__gt=after.txid).order_by("txid", "pk")
        rows += later[: count - len(rows)]
    return rows


@api_token_required
def record_list(request: HttpRequest) -> HttpResponse:
    """Records after the cursor `after`, in cursor order: pass back `nextCursor` to get newer ones."""
    try:
        after = parse_after(request.GET.get("after", ""))
    except ValueError:
        return _error(
            400,
            "invalid_parameter",
            "`after` must be a `nextCursor` this API returned (or a record id); "
            "leave it out to start from the first record.",
        )
    try:
        limit = int(request.GET.get("limit", settings.LEADPOST_API_PAGE_SIZE))
    except ValueError:
        return _error(400, "invalid_parameter", "`limit` must be an integer.")
    limit = max(1, min(limit, 1000))
    records = Record.objects.filter(account=request.api_account)  # type: ignore[attr-defined]
    position = after if isinstance(after, Position) else _position_after_id(records, after)
    rows = _page(records, position, limit + 1) if position is not None else []
    has_more = len(rows) > limit
    rows = rows[:limit]
    prefetch_related_objects(rows, *RECORD_PREFETCH)
    if rows:
        next_cursor = str(Position(rows[-1].txid, rows[-1].pk))
    else:
        # Nothing new: the cursor back (an integer one stays one while nothing above it is listable,
        # and means the same next time).
        next_cursor = str(position if position is not None else after)
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
