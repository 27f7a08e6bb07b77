"""The WSGI application (Django) run in a pool of threads, for the ASGI front (`lib/front.py`).

A request reaches a thread once, whole (the front has received its body), and its answer comes
back once: one hand-over each way. Adapters that let the thread talk to the event loop for every
message (a2wsgi, asgiref) make the thread wait for the loop, and the loop for the interpreter lock
that other threads hold, at every message; under load that convoy cost several milliseconds per
request (bench/README.md). A large answer (a file download) is passed on in pieces of
`_PIECE` bytes, each read in a thread.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from leadpost.lib.front import Message, Receive, Scope, Send
from leadpost.lib.requestbody import FRONT_EXTENSION, RequestBody

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# An answer up to this size goes back in one piece; a larger one (a download) in pieces this big.
_PIECE = 256 * 1024


def environ_of(scope: Scope, body: bytes | bytearray) -> dict[str, Any]:
    """The WSGI environ (PEP 3333) of an ASGI HTTP request whose body is `body`."""
    root = scope.get("root_path", "")
    path = scope["path"]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root.encode("utf-8").decode("latin-1"),
        "PATH_INFO": path.removeprefix(root).encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": _input(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "asgi.scope": scope,  # where lib/requestbody.py finds what the front made of the body
    }
    server = scope.get("server") or ("localhost", 80)
    environ["SERVER_NAME"], environ["SERVER_PORT"] = str(server[0]), str(server[1] or 0)
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = str(client[0]), str(client[1])
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1")
        value = raw_value.decode("latin-1")
        if name == "content-length":
            key = "CONTENT_LENGTH"
        elif name == "content-type":
            key = "CONTENT_TYPE"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class _BodyReader(io.RawIOBase):
    """The body as a stream without a copy of it (BytesIO copies anything but `bytes`)."""

    def __init__(self, data: bytes | bytearray) -> None:
        self._view = memoryview(data)
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        size = min(len(target), len(self._view) - self._position)
        target[:size] = self._view[self._position : self._position + size]
        self._position += size
        return size


def _input(body: bytes | bytearray) -> io.BufferedReader | io.BytesIO:
    if isinstance(body, bytes):
        return io.BytesIO(body)  # shares the bytes until written to
    return io.BufferedReader(_BodyReader(body))


class _Answer:
    """What the application answered, as gathered in its thread."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.first = b""
        self.rest: Iterator[bytes] | None = None  # pieces still to read, for a large answer
        self.close: Callable[[], None] = lambda: None

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        self.status = int(status.split(" ", 1)[0])
        self.headers = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers]
        return self._write

    def _write(self, data: bytes) -> None:  # the legacy write() callable: kept in order
        self.first += data


def _pieces(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """`chunks` regrouped into pieces of about `_PIECE` bytes."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) >= _PIECE:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


class ThreadedWSGI:
    """An ASGI application that runs `wsgi` in `threads` threads, one whole request at a time."""

    def __init__(self, wsgi: WSGIApp, threads: int) -> None:
        self.wsgi = wsgi
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="leadpost-app")

    def _run(self, environ: dict[str, Any]) -> _Answer:
        answer = _Answer()
        result = self.wsgi(environ, answer.start_response)
        pieces = _pieces(iter(result))
        first = next(pieces, b"")
        answer.first += first
        if len(first) < _PIECE:
            getattr(result, "close", lambda: None)()  # Django's request_finished: connections
        else:
            answer.rest = pieces
            answer.close = getattr(result, "close", lambda: None)
        return answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        handed = (scope.get("extensions") or {}).get(FRONT_EXTENSION)
        body = handed.data if isinstance(handed, RequestBody) else await _read_all(receive)
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(self.pool, self._run, environ_of(scope, body))
        more = answer.rest is not None
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": answer.headers}
        )
        await send({"type": "http.response.body", "body": answer.first, "more_body": more})
        if answer.rest is None:
            return
        try:
            while True:
                piece = await loop.run_in_executor(self.pool, next, answer.rest, None)
                if piece is None:
                    break
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await loop.run_in_executor(self.pool, answer.close)


async def _read_all(receive: Receive) -> bytes:
    parts = []
    while True:
        message: Message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)
