"""Notes and their files, from a vendor's post to what the read API shows (SPEC §8).

Everything goes through the real endpoint and the real read API. URL files are served by a real
HTTP server on 127.0.0.1 and downloaded by the real worker (`leadpost worker --batch`, which runs
the queued tasks in this process and exits when the queue is empty); tests that run it need
`transaction=True`, since the worker manages its own transactions and connections.
"""

from __future__ import annotations

import base64
import hashlib
import io
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django_tasks_db.models import DBTaskResult

from leadpost.conftest import PostFn
from leadpost.records.models import Attachment, Note

PDF = b"%PDF-1.4\nHome and auto quote for John Doe\n%%EOF\n"


# ------------------------------------------------------------------ a vendor's file server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    files: dict[str, bytes]
    failures: dict[str, int]
    requests: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if self.server.failures.get(self.path, 0) > 0:
            self.server.failures[self.path] -= 1
            self._send(500, b"Internal Server Error", "text/plain")
        elif self.path in self.server.files:
            self._send(200, self.server.files[self.path], "application/octet-stream")
        else:
            self._send(404, b"Not Found", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FileServer:
    """Serves `files` (path -> bytes) on 127.0.0.1; a path in `failures` first answers 500 that
    many times. `requests` lists the paths asked for."""

    def __init__(self) -> None:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self.files = self._httpd.files = {}
        self.failures = self._httpd.failures = {}
        self.requests = self._httpd.requests = []
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{path}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    server = FileServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def downloads_from_loopback(settings: Any) -> None:
    """Let the downloader reach the test server on 127.0.0.1; retry at once after a failure."""
    settings.LEADPOST_FETCH_ALLOW_LOOPBACK = True
    settings.LEADPOST_FETCH_BACKOFF_SECONDS = 0
    settings.LEADPOST_FETCH_MAX_TRIES = 5


# ------------------------------------------------------------------ helpers


def lead(**fields: str) -> dict[str, str]:
    return {"firstName": "John", "lastName": "Doe", **fields}


def note(n: int, subject: str, body: str = "Body", **extra: str) -> dict[str, str]:
    return {
        f"attachment_note_{n}_subject_text": subject,
        f"attachment_note_{n}_body_text": body,
        **{f"attachment_note_{n}_{name}": value for name, value in extra.items()},
    }


def base64_file(n: int, m: int, name: str, content: bytes) -> dict[str, str]:
    return {
        f"attach_file_to_note_{n}": "1",
        f"attachment_note_{n}_file_name_{m}": name,
        f"attachment_note_{n}_file_body_{m}": base64.b64encode(content).decode(),
    }


def url_file(n: int, m: int, name: str, url: str) -> dict[str, str]:
    return {
        f"attach_file_to_note_{n}": "1",
        f"attachment_note_{n}_file_name_{m}": name,
        f"attachment_note_{n}_file_url_{m}": url,
    }


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    assert body["result"] == "created", body
    return body


def warning_codes(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(w["field"], w["code"]) for w in body["warnings"]]


def read_record(client: Client, api_token: str, record_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/records/{record_id}", HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert response.status_code == 200, response.content
    data: dict[str, Any] = response.json()
    return data


def attachments_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for n in record["notes"] for a in n["attachments"]]


def download(client: Client, api_token: str, attachment: dict[str, Any]) -> bytes:
    assert attachment["contentUrl"], attachment
    response = client.get(attachment["contentUrl"], HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert response.status_code == 200
    return response.getvalue()


def stored_files() -> set[Path]:
    """Every file in attachment storage (settings.MEDIA_ROOT), to tell what a post left there."""
    root = Path(settings.MEDIA_ROOT)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def run_worker() -> None:
    """Run every task queued for now (downloads, agent e-mails) with the real worker, as
    `leadpost worker --batch` does (its first sweep included); a retry queued for later stays
    queued."""
    # The worker installs its own SIGINT/SIGTERM handlers (graceful shutdown); give pytest back its.
    signals = [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT]
    saved = {sig: signal.getsignal(sig) for sig in signals}
    try:
        call_command(
            "worker",
            "--batch",
            "--no-startup-delay",
            "--interval",
            "0",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


# ------------------------------------------------------------------ base64 files


def test_one_note_with_one_base64_file_is_stored_at_once(
    post: PostFn, client: Client, api_token: str
) -> None:
    body = created(post(lead(**note(1, "Quote", "Sent today"), **base64_file(1, 1, "q.pdf", PDF))))
    assert body["warnings"] == []

    record = read_record(client, api_token, body["recordId"])
    [only] = record["notes"]
    assert (only["subject"], only["body"], only["pinned"]) == ("Quote", "Sent today", False)
    [attachment] = only["attachments"]
    assert attachment["fileName"] == "q.pdf"
    assert attachment["source"] == "body"
    assert attachment["state"] == "stored"
    assert attachment["error"] is None
    assert attachment["size"] == len(PDF)
    assert attachment["sha256"] == hashlib.sha256(PDF).hexdigest()
    response = client.get(attachment["contentUrl"], HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert response.status_code == 200
    assert response.getvalue() == PDF
    assert response["Content-Disposition"] == 'attachment; filename="q.pdf"'


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("downloads_from_loopback")
def test_five_notes_of_five_files_mixing_base64_and_urls_are_all_stored(
    post: PostFn, client: Client, api_token: str, file_server: FileServer
) -> None:
    fields = lead()
    expected: dict[str, bytes] = {}
    for n in range(1, 6):
        fields |= note(n, f"Note {n}", f"Body of note {n}")
        for m in range(1, 6):
            name = f"doc-{n}-{m}.bin"
            content = f"document {n}.{m}\n".encode() * (40 * n * m) + bytes(range(256))
            expected[name] = content
            if (n + m) % 2:
                file_server.files[f"/files/{name}"] = content
                fields |= url_file(n, m, name, file_server.url(f"/files/{name}"))
            else:
                fields |= base64_file(n, m, name, content)
    body = created(post(fields))
    assert body["warnings"] == []

    # Before any download: base64 files stored with the record, URL files pending.
    record = read_record(client, api_token, body["recordId"])
    assert [n["subject"] for n in record["notes"]] == [f"Note {n}" for n in range(1, 6)]
    states = {a["fileName"]: (a["source"], a["state"]) for a in attachments_of(record)}
    assert states == {
        f"doc-{n}-{m}.bin": ("url", "pending") if (n + m) % 2 else ("body", "stored")
        for n in range(1, 6)
        for m in range(1, 6)
    }

    run_worker()

    record = read_record(client, api_token, body["recordId"])
    for n, shown in enumerate(record["notes"], start=1):
        assert [a["fileName"] for a in shown["attachments"]] == [
            f"doc-{n}-{m}.bin" for m in range(1, 6)
        ]
    attachments = attachments_of(record)
    assert len(attachments) == 25
    for attachment in attachments:
        content = expected[attachment["fileName"]]
        assert attachment["state"] == "stored", attachment
        assert attachment["size"] == len(content)
        assert attachment["sha256"] == hashlib.sha256(content).hexdigest()
        assert download(client, api_token, attachment) == content
    # Each URL was downloaded once.
    assert sorted(file_server.requests) == sorted(file_server.files)


def test_a_sixth_note_and_a_sixth_file_are_ignored_and_warned(
    post: PostFn, client: Client, api_token: str
) -> None:
    fields = lead()
    for n in range(1, 7):
        fields |= note(n, f"Note {n}")
    for m in range(1, 7):
        fields |= base64_file(1, m, f"f{m}.txt", f"file {m}".encode())
    body = created(post(fields))
    assert warning_codes(body) == [
        ("attachment_note_1_file_name_6", "too_many_files"),
        ("attachment_note_6_subject_text", "too_many_notes"),
    ]

    record = read_record(client, api_token, body["recordId"])
    assert [n["subject"] for n in record["notes"]] == [f"Note {n}" for n in range(1, 6)]
    assert [a["fileName"] for a in record["notes"][0]["attachments"]] == [
        f"f{m}.txt" for m in range(1, 6)
    ]


def test_invalid_base64_is_not_attached_and_warned(
    post: PostFn, client: Client, api_token: str
) -> None:
    fields = lead(**note(1, "Quote"), **base64_file(1, 2, "good.pdf", PDF))
    fields |= {
        "attachment_note_1_file_name_1": "bad.pdf",
        "attachment_note_1_file_body_1": "this is not base64!",
    }
    before = stored_files()
    body = created(post(fields))
    assert warning_codes(body) == [("attachment_note_1_file_body_1", "invalid_base64")]

    record = read_record(client, api_token, body["recordId"])
    [attachment] = attachments_of(record)
    assert attachment["fileName"] == "good.pdf"
    assert download(client, api_token, attachment) == PDF
    assert len(stored_files() - before) == 1


def test_file_names_are_sanitised_and_stay_inside_storage(
    post: PostFn, client: Client, api_token: str
) -> None:
    long_name = "a" * 300 + ".pdf"
    fields = lead(**note(1, "Quote"))
    fields |= base64_file(1, 1, "../../etc/passwd", b"not a password file")
    fields |= base64_file(1, 2, long_name, PDF)
    before = stored_files()
    body = created(post(fields))

    record = read_record(client, api_token, body["recordId"])
    traversal, long = attachments_of(record)
    assert traversal["fileName"] == "_.._etc_passwd"
    assert download(client, api_token, traversal) == b"not a password file"
    assert long["fileName"] == "a" * 251 + ".pdf"
    assert len(long["fileName"].encode()) == 255
    assert download(client, api_token, long) == PDF

    media_root = Path(settings.MEDIA_ROOT).resolve()
    new_files = stored_files() - before
    assert {p.name for p in new_files} == {"_.._etc_passwd", "a" * 251 + ".pdf"}
    for path in new_files:
        assert path.resolve().is_relative_to(media_root / "attachments")


def test_a_note_without_a_subject_is_skipped_with_its_files_and_warned(
    post: PostFn, client: Client, api_token: str
) -> None:
    fields = lead(**note(2, "Kept"))
    fields |= {"attachment_note_1_body_text": "No subject"} | base64_file(1, 1, "q.pdf", PDF)
    before = stored_files()
    body = created(post(fields))
    assert warning_codes(body) == [("attachment_note_1_subject_text", "note_incomplete")]

    record = read_record(client, api_token, body["recordId"])
    assert [(n["subject"], n["attachments"]) for n in record["notes"]] == [("Kept", [])]
    assert stored_files() == before


# ------------------------------------------------------------------ pinning


def test_of_two_pinned_notes_in_one_post_the_last_stays_pinned(
    post: PostFn, client: Client, api_token: str
) -> None:
    fields = lead(
        **note(1, "First", pinned="1"), **note(2, "Second"), **note(3, "Third", pinned="1")
    )
    body = created(post(fields))

    record = read_record(client, api_token, body["recordId"])
    # Pinned first, then in the order posted.
    assert [(n["subject"], n["pinned"]) for n in record["notes"]] == [
        ("Third", True),
        ("First", False),
        ("Second", False),
    ]


def test_pinned_notes_of_two_records_each_stay_pinned(
    post: PostFn, client: Client, api_token: str
) -> None:
    first = created(post(lead(externalID="a-1", **note(1, "John's pin", pinned="1"))))
    second = created(
        post(lead(firstName="Jane", externalID="a-2", **note(1, "Jane's pin", pinned="1")))
    )

    for body, subject in ((first, "John's pin"), (second, "Jane's pin")):
        record = read_record(client, api_token, body["recordId"])
        assert [(n["subject"], n["pinned"]) for n in record["notes"]] == [(subject, True)]


# ------------------------------------------------------------------ duplicates and dry runs


def test_a_duplicate_post_adds_no_notes_and_leaves_no_file(
    post: PostFn, client: Client, api_token: str
) -> None:
    before = stored_files()
    first = created(
        post(lead(externalID="dup-1", **note(1, "Quote"), **base64_file(1, 1, "q.pdf", PDF)))
    )
    after_first = stored_files()
    assert len(after_first - before) == 1

    retry = post(
        lead(externalID="dup-1", **note(1, "Quote again"), **base64_file(1, 1, "r.pdf", b"other"))
    )
    assert retry.status_code == 200
    assert retry.json()["result"] == "duplicate"
    assert retry.json()["recordId"] == first["recordId"]

    record = read_record(client, api_token, first["recordId"])
    assert [n["subject"] for n in record["notes"]] == ["Quote"]
    [attachment] = attachments_of(record)
    assert download(client, api_token, attachment) == PDF
    assert stored_files() == after_first  # the retry's file was removed again
    assert Note.objects.count() == 1


def test_a_dry_run_stores_no_note_and_no_file(
    post: PostFn, file_server: FileServer, settings: Any
) -> None:
    settings.LEADPOST_FETCH_ALLOW_LOOPBACK = True
    file_server.files["/q.pdf"] = PDF
    fields = lead(**note(1, "Quote"), **base64_file(1, 1, "a.pdf", PDF))
    fields |= url_file(1, 2, "b.pdf", file_server.url("/q.pdf"))
    before = stored_files()

    response = post(fields, suffix="/test")
    assert response.status_code == 200
    assert response.json()["result"] == "test"
    assert response.json()["warnings"] == []
    assert stored_files() == before
    assert Note.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert DBTaskResult.objects.count() == 0  # no download queued
    assert file_server.requests == []


# ------------------------------------------------------------------ URL downloads that fail


@pytest.mark.django_db(transaction=True)
def test_a_url_refused_by_the_default_policy_fails_with_its_reason(
    post: PostFn, client: Client, api_token: str, file_server: FileServer, settings: Any
) -> None:
    settings.LEADPOST_FETCH_ALLOW_LOOPBACK = False  # production's policy
    file_server.files["/q.pdf"] = PDF
    body = created(
        post(lead(**note(1, "Quote"), **url_file(1, 1, "q.pdf", file_server.url("/q.pdf"))))
    )

    run_worker()

    [attachment] = attachments_of(read_record(client, api_token, body["recordId"]))
    assert attachment["state"] == "failed"
    assert "non-public address (127.0.0.1)" in attachment["error"]
    assert attachment["attempts"] == 1  # refused for good, not retried
    assert attachment["contentUrl"] is None
    content = client.get(
        f"/api/v1/attachments/{attachment['id']}/content",
        HTTP_AUTHORIZATION=f"Bearer {api_token}",
    )
    assert content.status_code == 409
    assert file_server.requests == []  # refused before connecting


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("downloads_from_loopback")
def test_a_500_is_retried_and_the_file_stored(
    post: PostFn, client: Client, api_token: str, file_server: FileServer
) -> None:
    file_server.files["/q.pdf"] = PDF
    file_server.failures["/q.pdf"] = 1
    body = created(
        post(lead(**note(1, "Quote"), **url_file(1, 1, "q.pdf", file_server.url("/q.pdf"))))
    )

    run_worker()

    [attachment] = attachments_of(read_record(client, api_token, body["recordId"]))
    assert attachment["state"] == "stored"
    assert attachment["attempts"] == 2
    assert attachment["error"] is None
    assert attachment["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert download(client, api_token, attachment) == PDF
    assert file_server.requests == ["/q.pdf", "/q.pdf"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("downloads_from_loopback")
def test_five_500s_fail_the_file_after_five_tries(
    post: PostFn, client: Client, api_token: str, file_server: FileServer
) -> None:
    file_server.files["/q.pdf"] = PDF
    file_server.failures["/q.pdf"] = 1000
    body = created(
        post(lead(**note(1, "Quote"), **url_file(1, 1, "q.pdf", file_server.url("/q.pdf"))))
    )

    run_worker()

    [attachment] = attachments_of(read_record(client, api_token, body["recordId"]))
    assert attachment["state"] == "failed"
    assert attachment["attempts"] == 5
    assert attachment["error"].startswith("gave up after 5 tries: HTTP 500")
    assert attachment["contentUrl"] is None
    assert file_server.requests == ["/q.pdf"] * 5


# ------------------------------------------------------------------ the audit trail


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
def test_notes_and_attachments_cannot_be_changed_through_the_api(
    post: PostFn, client: Client, api_token: str, method: str
) -> None:
    body = created(post(lead(**note(1, "Quote", pinned="1"), **base64_file(1, 1, "q.pdf", PDF))))
    record_id = body["recordId"]
    before = read_record(client, api_token, record_id)
    [attachment] = attachments_of(before)

    for path in (
        f"/api/v1/records/{record_id}",
        "/api/v1/records",
        f"/api/v1/attachments/{attachment['id']}/content",
    ):
        response = client.generic(
            method,
            path,
            b'{"notes": [], "subject": "changed"}',
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {api_token}",
        )
        assert response.status_code == 405, path
        assert response["Allow"] == "GET"

    assert read_record(client, api_token, record_id) == before
    assert download(client, api_token, attachment) == PDF
