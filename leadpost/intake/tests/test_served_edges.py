"""The edges that only a real server shows: how bodies arrive, slow clients, what reaches the log.

Everything here goes through `leadpost serve` (granian, the body-buffering front, Django) on
127.0.0.1 with raw sockets where an HTTP library would tidy the hostile part away.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.records.models import Record

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = {"firstName": "John", "lastName": "Doe"}
SSN = "123-45-6789"


def _connect(served: str) -> socket.socket:
    parts = urlsplit(served)
    return socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=15)


def _answer(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of the one answer on `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.search(rb"content-length: *([0-9]+)", head, re.IGNORECASE)
    length = int(match[1]) if match else None
    while length is not None and len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ")[1]), body


def _request(token: str, body: bytes, *, length: int | None = None) -> bytes:
    declared = len(body) if length is None else length
    return (
        f"POST /leadpost/{token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {declared}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def _chunked_head(token: str) -> bytes:
    return (
        f"POST /leadpost/{token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()


def _chunk(part: bytes) -> bytes:
    return f"{len(part):x}\r\n".encode() + part + b"\r\n"


def _eventually(check: Callable[[], Any], what: str, seconds: float = 20.0) -> Any:
    """Poll for something the server does after answering (or without answering), bounded."""
    deadline = time.monotonic() + seconds
    pause = threading.Event()
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        pause.wait(0.05)


@pytest.fixture
def token(agency) -> str:
    return LeadPostUrl.issue(agency, "Datalot")[1]


def test_a_chunked_body_is_read_like_any_other(served, token):
    with _connect(served) as sock:
        sock.sendall(_chunked_head(token))
        for part in (b"firstName=Chunk", b"y&lastName=", b"Doe&externalID=LEAD-2026-000123"):
            sock.sendall(_chunk(part))
        sock.sendall(b"0\r\n\r\n")
        status, body = _answer(sock)
    assert status == 200, body
    record = Record.objects.get()
    assert (record.first_name, record.last_name) == ("Chunky", "Doe")
    assert record.external_id == "LEAD-2026-000123"


@pytest.mark.parametrize("served_env", [{"LEADPOST_MAX_BODY_BYTES": "4096"}])
def test_a_chunked_body_over_the_limit_is_413_and_not_stored(served, token):
    with _connect(served) as sock:
        sock.sendall(_chunked_head(token))
        part = b"firstName=A&lastName=B&title=" + b"x" * 3000
        sock.sendall(_chunk(part) * 3 + b"0\r\n\r\n")
        status, _ = _answer(sock)
    assert status == 413
    assert Record.objects.count() == 0
    assert PostLog.objects.get().result == "too_large"


FULL = (
    "firstName=John&lastName=Doe&attachment_note_1_subject_text=S&"
    "attachment_note_1_body_text=Customer wants a call&externalID=LEAD-2026-000123"
)


@pytest.mark.parametrize(
    "cut_at",
    [FULL[: FULL.index("Customer wa") + len("Customer wa")], FULL[: FULL.index("-0001")]],
    ids=["inside-a-note", "inside-the-external-id"],
)
def test_a_body_shorter_than_its_content_length_is_not_a_post(served, token, cut_at):
    with _connect(served) as sock:
        sock.sendall(_request(token, cut_at.encode(), length=len(FULL)))
        sock.shutdown(socket.SHUT_RDWR)
    log = _eventually(lambda: PostLog.objects.first(), "the post log entry")
    assert (log.result, log.status_code, log.record_id) == ("cut_short", 400, None)
    assert "Content-Length announced" in log.errors[0]["message"]
    assert Record.objects.count() == 0
    # The vendor's complete retry makes the one record, under its whole externalID.
    response = httpx.post(
        f"{served}/leadpost/{token}",
        content=FULL.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.json()["result"] == "created"
    record = Record.objects.get()
    assert record.external_id == "LEAD-2026-000123"
    assert record.notes.get().body == "Customer wants a call"


@contextmanager
def _hostile_connections(served: str, token: str, count: int) -> Iterator[None]:
    """`count` connections that hold on: silent, headers only, or a body that never ends."""
    with ExitStack() as stack:
        for i in range(count):
            sock = stack.enter_context(_connect(served))
            if i % 3 == 1:  # headers announcing a body, then nothing
                sock.sendall(_request(token, b"", length=10_000))
            elif i % 3 == 2:  # a trickle: part of the body, then nothing more
                sock.sendall(_request(token, b"firstName=Sl", length=10_000))
            # i % 3 == 0: connected, silent
        yield


def test_32_slow_or_silent_connections_do_not_stop_a_vendors_post(served, token):
    with _hostile_connections(served, token, 32):
        # Answered while every hostile connection is still open (a time-out here is a failure).
        response = httpx.post(f"{served}/leadpost/{token}", data=NAMES, timeout=10)
        assert response.status_code == 200
        assert response.json()["result"] == "created"
        assert httpx.get(f"{served}/staff/login/", timeout=10).status_code == 200
    assert Record.objects.count() == 1


@pytest.mark.parametrize(
    "served_env", [{"LEADPOST_BODY_MEMORY_MB": "1", "LEADPOST_BODY_TIMEOUT": "3"}]
)
def test_every_answer_and_every_log_line_keeps_tokens_and_ssns_out(
    served, served_log, agency, token
):
    limited, limited_token = LeadPostUrl.issue(agency, "Limited")
    limited.rate_limit_per_minute = 1
    limited.save()
    lead = {**NAMES, "ssn": SSN, "homePhone": SSN, "custom_X": "123456789", "notes": SSN}
    url = f"{served}/leadpost/{token}"
    with httpx.Client(timeout=30) as http:
        answers = [
            http.post(url, data=lead),  # 200 created, with warnings
            http.post(url, data={"firstName": SSN, "ssn": SSN}),  # 400 rejected
            http.post(f"{served}/leadpost/{token}x{SSN}", data=lead),  # 404 unknown token
            http.get(f"{url}?ssn={SSN}"),  # 405
            http.post(url, content=b"x", headers={"Content-Type": "text/plain"}),  # 415
            http.post(f"{served}/leadpost/{limited_token}", data=lead),  # 200
            http.post(f"{served}/leadpost/{limited_token}", data=lead),  # 429
            http.post(url, data={**lead, "title": "t" * 1_500_000}),  # 503: over the budget
            http.post(f"{url}/x/{SSN}", data=lead),  # 404: no URL pattern
            http.post(url, data=lead, headers={"Host": f"evil-{SSN}.example"}),  # 400 bad Host
        ]
    statuses = [r.status_code for r in answers]
    with _connect(served) as sock:  # 413 on the declared length, nothing read
        sock.sendall(_request(token, b"firstName=A", length=10**9))
        statuses.append(_answer(sock)[0])
    with _connect(served) as sock:  # 408: the body never completes
        sock.sendall(_request(token, f"firstName={SSN}".encode(), length=100))
        statuses.append(_answer(sock)[0])
    assert statuses == [200, 400, 404, 405, 415, 200, 429, 503, 404, 400, 413, 408]
    for response in answers:  # every answer under /leadpost/ is JSON (SPEC §2)
        assert response.headers["content-type"].startswith("application/json"), response.text
    for response in [*answers[:2], *answers[3:8]]:  # the posts to a known URL
        assert int(response.headers["x-lead-post-id"]) > 0

    log = _eventually(lambda: served_log() if '" 408 ' in served_log() else "", "the 408 line")
    assert '"POST /leadpost/' in log
    for secret in (token, limited_token):
        assert secret[:6] in log  # the access log keeps the prefix, to tell URLs apart
        assert secret[:7] not in log
    for ssn in (SSN, "123456789"):
        assert ssn not in log
    assert "Traceback" not in log
    # A bad Host header is one warning line, not an error with a traceback.
    assert re.search(r"WARNING django\.security\.DisallowedHost Invalid HTTP_HOST", log)
    for entry in PostLog.objects.all():
        text = str([entry.params, entry.warnings, entry.errors, entry.user_agent])
        assert SSN not in text and "123456789" not in text


def test_a_20_mb_form_to_a_login_page_is_refused_before_it_is_read(served):
    with httpx.Client(base_url=served, timeout=15) as http:
        login = http.get("/staff/login/")
        csrf = http.cookies["csrftoken"]
        with _connect(served) as sock:
            sock.sendall(
                "POST /staff/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Cookie: csrftoken={csrf}\r\nContent-Length: {20 * 1024 * 1024}\r\n"
                "Connection: close\r\n\r\n".encode()
                + f"csrfmiddlewaretoken={csrf}&username=x&password=".encode()
            )
            status, body = _answer(sock)  # answered without the 20 MB ever being sent
    assert login.status_code == 200
    assert status == 413, body
