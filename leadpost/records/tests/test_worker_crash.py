"""A worker killed in the middle of a download: the file is still stored, once (SPEC §8).

Real processes throughout: `leadpost worker` runs as a subprocess against the test database, the
vendor's file is served from 127.0.0.1, and the first worker is killed with SIGKILL while its
request is in flight, so nothing of it gets to clean up. The attachment row's lease is then the
only trace; the second worker's sweep must find it and download the file again.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from leadpost.conftest import PostFn, database_url

pytestmark = pytest.mark.django_db(transaction=True)

DEADLINE_SECONDS = 60


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    content: bytes
    arrived: threading.Event  # set when a request for the file comes in
    release: threading.Event  # until set, every request waits: the download stays in flight
    requests: list[str]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the killed worker's request finds its connection gone: expected


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        self.server.arrived.set()
        self.server.release.wait(DEADLINE_SECONDS)
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", str(len(self.server.content)))
        self.end_headers()
        self.wfile.write(self.server.content)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    # Random bytes: no other test stores this file, so finding it in storage means this test did.
    httpd.content = b"%PDF-1.4\n" + secrets.token_bytes(64 * 1024)
    httpd.arrived = threading.Event()
    httpd.release = threading.Event()
    httpd.requests = []
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield httpd
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


class Workers:
    """`leadpost worker` subprocesses, all killed when the test ends."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._running: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, **settings_env: str) -> subprocess.Popen[bytes]:
        """One more worker; `settings_env` overrides the settings below (e.g. time-outs)."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "leadpost.settings_test",
            "DATABASE_URL": database_url(),
            "LEADPOST_FETCH_ALLOW_LOOPBACK": "1",
            "LEADPOST_FETCH_BACKOFF_SECONDS": "0",
            "LEADPOST_ATTACHMENT_LEASE_SECONDS": "2",
            "LEADPOST_SWEEP_INTERVAL": "1",
            **settings_env,
        }
        log = self._logs / f"worker-{len(self._running) + 1}.log"
        with log.open("wb") as output:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "leadpost.cli",
                    "worker",
                    "--no-startup-delay",
                    "--interval",
                    "0.1",
                ],
                cwd=settings.BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self._running.append((process, log))
        return process

    def output(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')}" for _, log in self._running
        )

    def kill_all(self) -> None:
        for process, _ in self._running:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    running = Workers(tmp_path)
    try:
        yield running
    finally:
        running.kill_all()


def wait_for(condition: Callable[[], bool], what: str, workers: Workers) -> None:
    # Polls the database (the row is the truth; nothing signals a change), bounded by a deadline.
    deadline = time.monotonic() + DEADLINE_SECONDS
    between_polls = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {DEADLINE_SECONDS} s\n{workers.output()}")
        between_polls.wait(0.1)


def _files_holding(content: bytes) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file() and p.read_bytes() == content]


def test_a_download_cut_by_a_killed_worker_is_stored_once_by_the_next(
    post: PostFn, client: Client, api_token: str, slow_server: _Server, workers: Workers
) -> None:
    first = workers.start()
    url = f"http://127.0.0.1:{slow_server.server_address[1]}/quote.pdf"
    response = post(
        {
            "firstName": "John",
            "lastName": "Doe",
            "attachment_note_1_subject_text": "Quote",
            "attachment_note_1_body_text": "Signed quote attached",
            "attach_file_to_note_1": "1",
            "attachment_note_1_file_name_1": "quote.pdf",
            "attachment_note_1_file_url_1": url,
        }
    )
    assert response.status_code == 200, response.content
    record_id = response.json()["recordId"]

    def attachment() -> dict[str, Any]:
        reply = client.get(f"/api/v1/records/{record_id}", HTTP_AUTHORIZATION=f"Bearer {api_token}")
        assert reply.status_code == 200
        [only] = reply.json()["notes"][0]["attachments"]
        return only

    # The first worker is downloading: staff see the file pending, on its first attempt.
    wait_for(slow_server.arrived.is_set, "the first worker's request", workers)
    assert (attachment()["state"], attachment()["attempts"]) == ("pending", 1)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    slow_server.release.set()  # from now on the vendor's server answers

    workers.start()
    wait_for(
        lambda: attachment()["state"] != "pending", "the file stored by the second worker", workers
    )

    stored = attachment()
    content = slow_server.content
    assert stored["state"] == "stored", workers.output()
    assert stored["error"] is None
    assert stored["size"] == len(content)
    assert stored["sha256"] == hashlib.sha256(content).hexdigest()
    assert stored["attempts"] >= 2
    download = client.get(stored["contentUrl"], HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert download.getvalue() == content
    # Exactly one copy in storage, in the attachment's own place.
    [copy] = _files_holding(content)
    assert copy.name == "quote.pdf"
    assert [p for p in copy.parent.iterdir()] == [copy]
    assert len(slow_server.requests) >= 2
