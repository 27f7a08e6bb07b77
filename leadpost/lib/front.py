"""The ASGI front of `leadpost serve`: every body is received whole before the app sees the request.

Slow or silent clients must not stop the service from taking leads (SPEC §2). The app is Django,
which is synchronous: a thread that reads a body from a client sending one byte a second is a
thread no other vendor can use, and a handful of such clients stall a whole server. Here the body
is received by the event loop, which holds thousands of slow connections at the cost of a
coroutine each; only a complete request reaches the app's threads (`a2wsgi` runs Django there).

Also here, because only here are they known before the app runs: the size limits (the lead
endpoint's, every other page's Django default), a deadline for the body, a bound on the bytes held
in memory at once, and the access log (tokens cut by the logging filter, SPEC §9).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from leadpost.lib import health
from leadpost.lib.clientaddr import client_ip
from leadpost.lib.jsonlog import current_post_id
from leadpost.lib.metrics import LEAD_POST_SECONDS
from leadpost.lib.requestbody import FRONT_EXTENSION, BodyState, RequestBody

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("leadpost.access")

_LEAD_PATH = "/leadpost"
_PLAIN = [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store")]


def is_lead_path(path: str) -> bool:
    return path == _LEAD_PATH or path.startswith(_LEAD_PATH + "/")


class BodyFront:
    """Receives each request's body in full (or refuses it), then hands the request to `app`.

    The lead endpoint is always handed the request, with what happened to its body, because every
    post to a known URL is logged, refused ones included (SPEC §9). Other pages get a plain answer
    here when their body is too large, late or cut short.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        lead_limit: int,
        page_limit: int,
        body_timeout: float,
        memory_budget: int,
        retry_after: int,
    ) -> None:
        self.app = app
        self.lead_limit = lead_limit
        self.page_limit = page_limit
        self.body_timeout = body_timeout
        self.memory_budget = memory_budget
        self.retry_after = retry_after
        self.held = 0  # body bytes this process holds right now (one event loop: no lock needed)
        self.readiness = health.Readiness()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in health.PATHS:
            # Before Django (any Host, no session, no limit) and out of the access log: a load
            # balancer asks every few seconds (lib/health.py).
            await health.answer(path, scope["method"], self.readiness, send)
            return
        started = time.perf_counter()
        answer = _Answer(send)
        reserved = 0
        lead = is_lead_path(path)
        try:
            body, reserved = await self._receive_body(
                scope, receive, self.lead_limit if lead else self.page_limit
            )
            if body.state is BodyState.COMPLETE or lead:
                await self.app(_handed_scope(scope, body), _replay(body, receive), answer.send)
            else:
                await self._refuse(body, answer.send)
        finally:
            self.held -= reserved
            seconds = time.perf_counter() - started
            if lead:
                LEAD_POST_SECONDS.observe(seconds)
            _log_access(scope, answer, seconds)

    async def _receive_body(
        self, scope: Scope, receive: Receive, limit: int
    ) -> tuple[RequestBody, int]:
        """The body, and how many bytes of the memory budget it holds until the request is done."""
        declared: int | None = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                declared = int(value) if value.isdigit() else None
        if declared is not None and declared > limit:
            # Refused on the declared length alone: nothing of the body is read (SPEC §2).
            return RequestBody(BodyState.TOO_LARGE, declared=declared), 0
        # One chunk (most posts) is kept as it came; more are copied into one buffer as they come,
        # sized by the Content-Length when there is one: a 64 MiB body is then held once, never
        # as its chunks and their join at the same time.
        first = b""
        buffer: bytearray | None = None
        received = kept = 0
        state = BodyState.COMPLETE
        try:
            async with asyncio.timeout(self.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        state = BodyState.CUT_SHORT
                        break
                    chunk: bytes = message.get("body", b"")
                    if chunk:
                        received += len(chunk)
                        if received > limit:
                            state = BodyState.TOO_LARGE
                            break
                        if self.held + len(chunk) > self.memory_budget:
                            # Too many large bodies at once: a passing condition, worth a retry.
                            state = BodyState.BUSY
                            break
                        self.held += len(chunk)
                        kept += len(chunk)
                        if buffer is None and not first:
                            first = chunk
                        elif declared is not None:  # its size is known: filled in place
                            if buffer is None:
                                buffer = bytearray(declared)
                                buffer[: len(first)] = first
                                first = b""
                            buffer[received - len(chunk) : received] = chunk
                        else:  # chunked: grown as it comes
                            if buffer is None:
                                buffer, first = bytearray(first), b""
                            buffer += chunk
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            state = BodyState.TIMED_OUT
        if state is BodyState.COMPLETE and declared is not None and received != declared:
            state = BodyState.CUT_SHORT
        if state is not BodyState.COMPLETE:
            self.held -= kept  # nothing of a refused body is kept
            return RequestBody(state, b"", received, declared), 0
        data = first if buffer is None else buffer
        return RequestBody(state, data, received, declared), kept

    async def _refuse(self, body: RequestBody, send: Send) -> None:
        if body.state is BodyState.CUT_SHORT:
            return  # nobody is left to read an answer
        status, text, extra = {
            BodyState.TOO_LARGE: (413, f"The body is over {self.page_limit} bytes.", []),
            BodyState.TIMED_OUT: (408, "The body did not arrive in time.", []),
            BodyState.BUSY: (
                503,
                "Too many requests at once; try again shortly.",
                [(b"retry-after", str(self.retry_after).encode())],
            ),
        }[body.state]
        await send({"type": "http.response.start", "status": status, "headers": _PLAIN + extra})
        await send({"type": "http.response.body", "body": text.encode() + b"\n"})


def _handed_scope(scope: Scope, body: RequestBody) -> Scope:
    """The scope the app sees: the body's real length instead of the client's framing, and the
    front's account of the body in `extensions` (read by `lib.requestbody.read_body`)."""
    headers = [
        (name, value)
        for name, value in scope.get("headers", ())
        if name not in (b"content-length", b"transfer-encoding")
    ]
    headers.append((b"content-length", str(len(body.data)).encode()))
    extensions = dict(scope.get("extensions") or {})
    extensions[FRONT_EXTENSION] = body
    return {**scope, "headers": headers, "extensions": extensions}


def _replay(body: RequestBody, receive: Receive) -> Receive:
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body.data, "more_body": False}
        return await receive()  # after the body, only the server's own news (a disconnect)

    return replay


class _Answer:
    """Forwards the app's messages, remembering what the access log says of them.

    A client that went away makes the server refuse further messages: the answer is dropped
    quietly (the post it belonged to is logged by the app all the same).
    """

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 0
        self.bytes = 0
        self.gone = False
        self.post_id: int | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            for name, value in message.get("headers", ()):
                if name == b"x-lead-post-id" and value.isdigit():
                    self.post_id = int(value)
        elif message["type"] == "http.response.body":
            self.bytes += len(message.get("body", b""))
        if self.gone:
            return
        try:
            await self._send(message)
        except (OSError, RuntimeError):
            self.gone = True


def _log_access(scope: Scope, answer: _Answer, seconds: float) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    meta: dict[str, str] = {}
    client = scope.get("client")
    if client:
        meta["REMOTE_ADDR"] = str(client[0])
    user_agent = ""
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            meta["HTTP_X_FORWARDED_FOR"] = value.decode("latin-1")
        elif name == b"user-agent":
            user_agent = value.decode("latin-1")[:200]
    # The post id of a JSON log line (lib/jsonlog.py); this task's own context, set for this line.
    reset = current_post_id.set(answer.post_id)
    try:
        _access_line(scope, meta, answer, seconds, user_agent)
    finally:
        current_post_id.reset(reset)


def _access_line(
    scope: Scope, meta: dict[str, str], answer: _Answer, seconds: float, user_agent: str
) -> None:
    access_log.info(
        '%s "%s %s" %s %s %.1fms "%s"',
        client_ip(meta) or "-",
        scope.get("method", ""),
        scope.get("path", ""),
        answer.status or "-",
        answer.bytes,
        seconds * 1000,
        user_agent.replace('"', "'"),
    )
