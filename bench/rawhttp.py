"""HTTP/1.1 over a raw socket, for the hostile benchmarks (slow_clients.py, fuzz.py).

Libraries normalise exactly what these benchmarks need to send as written: a NUL in a header, a
body shorter than its Content-Length, a chunked body with extensions, a garbage request line, a
half-closed connection. Here the caller gives the bytes; this module sends them, reads one answer
(status line, headers, a body by Content-Length, chunked or up to the close) and measures the time,
all within one overall deadline.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class Answer:
    """What came back. `status` is None when nothing parseable did; `error` then says why."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names, the last one wins
    body: bytes = b""
    error: str | None = None  # "timeout", "reset", "closed", "refused", "bad-answer: ..."
    seconds: float = 0.0


def build(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str | bytes]] = (),
    body: bytes = b"",
    *,
    content_length: bool = True,
    host: str = "127.0.0.1",
) -> bytes:
    """A request as bytes: the request line, Host (unless given), the headers as given,
    Content-Length of the body (unless content_length is False or one is given), the body."""
    given = [(k, v) for k, v in headers]
    names = {k.lower() for k, _ in given}
    lines: list[bytes] = [f"{method} {target} HTTP/1.1".encode("latin-1", "replace")]
    if "host" not in names:
        lines.append(f"Host: {host}".encode())
    for name, value in given:
        raw = value if isinstance(value, bytes) else value.encode("latin-1", "replace")
        lines.append(name.encode("latin-1", "replace") + b": " + raw)
    bodyless = method in ("GET", "HEAD", "DELETE", "OPTIONS", "TRACE") and not body
    if content_length and not bodyless and not names & {"content-length", "transfer-encoding"}:
        lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def chunked(body: bytes, sizes: Iterable[int], *, extension: bytes = b"") -> bytes:
    """`body` in chunks of the given sizes (the last size repeats), then the final empty chunk."""
    out: list[bytes] = []
    sizes = list(sizes) or [len(body) or 1]
    pos = 0
    i = 0
    while pos < len(body):
        size = max(1, sizes[min(i, len(sizes) - 1)])
        piece = body[pos : pos + size]
        out.append(f"{len(piece):x}".encode() + extension + b"\r\n" + piece + b"\r\n")
        pos += size
        i += 1
    out.append(b"0\r\n\r\n")
    return b"".join(out)


class _Reader:
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buffer = b""
        self.closed = False

    def _fill(self) -> bool:
        if self.closed:
            return False
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            self.closed = True
            return False
        self.buffer += data
        return True

    def until(self, marker: bytes) -> bytes | None:
        while marker not in self.buffer:
            if not self._fill():
                return None
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def exactly(self, n: int) -> bytes | None:
        while len(self.buffer) < n:
            if not self._fill():
                return None
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def rest(self) -> bytes:
        while self._fill():
            pass
        data, self.buffer = self.buffer, b""
        return data


def _read_answer(reader: _Reader, *, head: bool) -> Answer:
    while True:
        raw = reader.until(b"\r\n\r\n")
        if raw is None:
            return Answer(error="closed" if not reader.buffer else "bad-answer: truncated head")
        lines = raw.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            return Answer(error=f"bad-answer: {lines[0][:60]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        if 100 <= status < 200:
            continue  # 100 Continue: the real answer follows
        break
    if head or status in (204, 304):
        return Answer(status, headers)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while True:
            size_line = reader.until(b"\r\n")
            if size_line is None:
                return Answer(status, headers, body, error="bad-answer: truncated chunk")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                reader.until(b"\r\n")
                return Answer(status, headers, body)
            piece = reader.exactly(size + 2)
            if piece is None:
                return Answer(status, headers, body, error="bad-answer: truncated chunk")
            body += piece[:-2]
    if "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            return Answer(status, headers, reader.rest())
        data = reader.exactly(length)
        if data is None:
            return Answer(status, headers, reader.rest(), error="bad-answer: truncated body")
        return Answer(status, headers, data)
    return Answer(status, headers, reader.rest())


def exchange(
    port: int,
    request: bytes,
    *,
    timeout: float,
    host: str = "127.0.0.1",
    head: bool = False,
    then: str = "read",
) -> Answer:
    """Connect, send `request`, read one answer, close; everything within `timeout` seconds.

    then: "read" (read the answer), "half-close" (shut our side for writing, as a client that
    went away after a short body, then read whatever comes), "close" (close at once, no answer).
    A send that fails because the server answered early and closed is not an error by itself:
    the answer it sent is still read.
    """
    started = time.monotonic()
    deadline = started + timeout
    answer = Answer()
    sock: socket.socket | None = None
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        send_error: str | None = None
        try:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            sock.sendall(request)
        except TimeoutError:
            send_error = "timeout"
        except (BrokenPipeError, ConnectionResetError):
            send_error = "reset"
        if then == "close":
            answer = Answer(error="closed-by-client")
        else:
            if then == "half-close":
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
            try:
                answer = _read_answer(_Reader(sock, deadline), head=head)
            except TimeoutError:
                answer = Answer(error="timeout")
            except ConnectionResetError:
                answer = Answer(error=send_error or "reset")
            if answer.status is None and send_error and answer.error == "closed":
                answer.error = send_error
    except TimeoutError:
        answer = Answer(error="timeout")
    except ConnectionRefusedError:
        answer = Answer(error="refused")
    except ConnectionResetError:
        answer = Answer(error="reset")
    except OSError as exc:
        answer = Answer(error=f"oserror: {exc.strerror or exc}")
    finally:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
    answer.seconds = time.monotonic() - started
    return answer
