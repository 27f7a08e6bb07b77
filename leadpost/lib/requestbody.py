"""Reading a request's body ourselves, with a limit, whatever framing the client used (SPEC §2).

Under `leadpost serve` the ASGI front (`lib/front.py`) has already received the whole body,
asynchronously, before any thread of the app is involved; it hands the bytes and what happened
to them over in the ASGI scope. Under a plain WSGI server (and Django's test client) the body is
read here from `wsgi.input`: by its Content-Length, or to its end when it is chunked (Django's
own request reads nothing without a Content-Length).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.http import HttpRequest

FRONT_EXTENSION = "leadpost.body"  # the key the front puts its result under in scope["extensions"]
_CHUNK = 256 * 1024


class BodyState(StrEnum):
    COMPLETE = "complete"
    TOO_LARGE = "too_large"  # over the limit: not read past it
    CUT_SHORT = "cut_short"  # the client went away before the end of the body
    TIMED_OUT = "timed_out"  # the body did not arrive in time
    BUSY = "busy"  # the server holds too many bodies in memory right now


@dataclass(frozen=True, slots=True)
class RequestBody:
    state: BodyState
    # The whole body when COMPLETE, else empty; a bytearray when it came in several chunks.
    data: bytes | bytearray = b""
    received: int = 0  # bytes that arrived
    declared: int | None = None  # the Content-Length, if one was sent

    def __repr__(self) -> str:  # never the bytes: they may hold an SSN
        return f"RequestBody({self.state}, received={self.received}, declared={self.declared})"


def declared_length(meta: dict[str, Any]) -> int | None:
    raw = str(meta.get("CONTENT_LENGTH") or "").strip()
    return int(raw) if raw.isdigit() else None


def is_chunked(meta: dict[str, Any]) -> bool:
    return "chunked" in str(meta.get("HTTP_TRANSFER_ENCODING", "")).lower()


def read_body(request: HttpRequest, limit: int) -> RequestBody:
    """The body of `request`, read at most `limit` bytes far."""
    front = _from_front(request)
    if front is not None:
        return front
    meta = request.META
    declared = declared_length(meta)
    if declared is not None and declared > limit:
        return RequestBody(BodyState.TOO_LARGE, declared=declared)
    if is_chunked(meta):
        # The server has undone the chunking; its wsgi.input ends where the body ends.
        return _read_to_end(meta["wsgi.input"], limit, declared)
    wanted = declared or 0
    parts: list[bytes] = []
    received = 0
    while received < wanted:
        try:
            chunk = request.read(min(_CHUNK, wanted - received))
        except OSError:  # the connection broke mid-body
            chunk = b""
        if not chunk:
            return RequestBody(BodyState.CUT_SHORT, received=received, declared=declared)
        parts.append(chunk)
        received += len(chunk)
    return RequestBody(BodyState.COMPLETE, b"".join(parts), received, declared)


def _read_to_end(stream: Any, limit: int, declared: int | None) -> RequestBody:
    parts: list[bytes] = []
    received = 0
    while True:
        try:
            chunk = stream.read(_CHUNK)
        except Exception:
            # Each server reports a broken chunked body with an exception of its own (gunicorn's
            # NoMoreData, ChunkMissingTerminator, ...): whichever it is, the body did not arrive.
            return RequestBody(BodyState.CUT_SHORT, received=received, declared=declared)
        if not chunk:
            break
        received += len(chunk)
        if received > limit:
            return RequestBody(BodyState.TOO_LARGE, received=received, declared=declared)
        parts.append(chunk)
    return RequestBody(BodyState.COMPLETE, b"".join(parts), received, declared)


def _from_front(request: HttpRequest) -> RequestBody | None:
    scope = request.META.get("asgi.scope")
    if not isinstance(scope, dict):
        return None
    handed = (scope.get("extensions") or {}).get(FRONT_EXTENSION)
    if not isinstance(handed, RequestBody):
        return None
    return handed
