"""A real webhook receiver on 127.0.0.1, and the helpers the webhook tests share.

The receiver checks each delivery's signature with the example agencies are given
(`leadpost.webhooks.snippets`, as an agency's CRM would paste it; not `leadpost.webhooks.signing`),
keeps every request's headers and body, and answers as the test tells it: a status, a Retry-After,
a long silence, or a dropped connection.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from leadpost.accounts.models import Account
from leadpost.webhooks import snippets
from leadpost.webhooks.models import EventType, WebhookSubscription
from leadpost.webhooks.secrets import set_new_secret

ALL_EVENTS = [t.value for t in EventType]
# How long a receiver told to "hold" keeps a request open at most (the test releases it sooner).
HOLD_SECONDS = 60


@dataclass
class Answer:
    """What the receiver does with one request."""

    status: int = 200
    # The answer's body, or a function of the request's body (a receiver that echoes it).
    body: bytes | Callable[[bytes], bytes] = b'{"ok":true}'
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds to wait before answering (beyond the webhook timeout: the sender gives up first).
    delay: float = 0.0
    # Close the connection without any answer.
    drop: bool = False
    # Wait until the test sets `Receiver.release` (a delivery kept in flight).
    hold: bool = False


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


# A receiver's check of `Leadpost-Signature`, from the example the README and the webhook's page
# give agencies (test_readme.py holds it to the scheme), not from `leadpost.webhooks.signing`.
signed_correctly = snippets.python_check()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a sender that gave up (time-out, killed worker) leaves a broken pipe: expected


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        receiver = self.server.receiver
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        ok = signed_correctly(receiver.secret, headers.get("leadpost-signature", ""), body)
        answer = receiver.next_answer()
        with receiver.lock:
            receiver.requests.append(Received(self.path, headers, body, ok))
            receiver.lock.notify_all()
        if answer.hold:
            receiver.release.wait(HOLD_SECONDS)
        if answer.delay:
            receiver.release.wait(answer.delay)
        if answer.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        reply = answer.body(body) if callable(answer.body) else answer.body
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Receiver:
    """An agency's webhook endpoint on 127.0.0.1. `answers` are used in turn (the last one
    again once they run out); `requests` is everything it was sent."""

    def __init__(self, port: int = 0) -> None:
        self.secret = ""
        self.answers: list[Answer] = [Answer()]
        self.requests: list[Received] = []
        self.lock = threading.Condition()
        self.release = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = port
        self.start()

    def start(self) -> None:
        httpd = _Server(("127.0.0.1", self.port), _Handler)
        httpd.receiver = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Close the listening socket: a sender's connection is refused until `start`."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            assert self._thread is not None
            self._thread.join(timeout=5)
            self._httpd = None

    def close(self) -> None:
        self.release.set()
        self.stop()

    @property
    def url(self) -> str:
        return self.url_to("/hooks/leadpost")

    def url_to(self, path: str) -> str:
        """Another path on the same receiver (each request's `path` tells which it reached)."""
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *answers: Answer) -> None:
        self.answers = list(answers)

    def next_answer(self) -> Answer:
        with self.lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def wait_for(self, count: int, seconds: float = 60) -> list[Received]:
        """The first `count` requests, once they came (another process sends them)."""
        deadline = time.monotonic() + seconds
        with self.lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"the receiver got {len(self.requests)} of {count} requests")
                self.lock.wait(left)
            return list(self.requests[:count])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def loopback(settings: Any) -> None:
    """Let deliveries reach the receiver on 127.0.0.1 (production refuses it)."""
    settings.LEADPOST_FETCH_ALLOW_LOOPBACK = True


def subscribe(
    account: Account,
    url: str,
    events: list[str] | None = None,
    receiver: Receiver | None = None,
    **fields: Any,
) -> WebhookSubscription:
    """A webhook of `account` to `url`; its secret (shown once) is handed to `receiver`."""
    subscription = WebhookSubscription(
        account=account, url=url, events=ALL_EVENTS if events is None else events, **fields
    )
    secret = set_new_secret(subscription)
    subscription.save()
    if receiver is not None:
        receiver.secret = secret
    return subscription


def api_record(client: Client, api_token: str, record_id: int) -> Any:
    """The record as the read API shows it now (SPEC §11)."""
    reply = client.get(f"/api/v1/records/{record_id}", HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert reply.status_code == 200, reply.content
    return reply.json()


Poll = Callable[[], bool]
