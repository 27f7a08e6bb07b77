"""TrustedForm claims (SPEC §14) against a real HTTP server on 127.0.0.1, run by the real worker
(`leadpost worker --batch`): the outcome on the record, retries, failures visible, and the
account's API key nowhere but in the Authorization header sent to TrustedForm."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client
from django_tasks_db.models import DBTaskResult

from leadpost.accounts.models import Account, Permission
from leadpost.conftest import PostFn
from leadpost.consent.tasks import sweep_claims
from leadpost.consent.trustedform import MAX_ANSWER_BYTES
from leadpost.lib.encryption import encrypt_secret
from leadpost.records.tests.test_attachments import run_worker

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "tf-key-7Hq2Zp9WxL4mN8vR"
CERT_ID = "eb9fc4dd9bed9ad451a5648946cf4bf09b5bb947"
CERT = f"https://cert.trustedform.com/{CERT_ID}"
CLAIMED = {
    "id": "5cdc3b6065fa3607a803a94d",
    "created_at": "2026-12-01T17:04:45Z",
    "expires_at": "2027-02-28T17:04:45Z",
    "cert": {
        "token": CERT_ID,
        "ip": "203.0.113.9",
        "page_url": "https://quotes.example.com/life",
        "consent_text": "By clicking Submit I agree to be called.",
    },
}


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    replies: list[Reply]
    requests: list[dict[str, Any]]
    release: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        self.server.requests.append(
            {
                "path": self.path,
                "authorization": self.headers.get("Authorization"),
                "accept": self.headers.get("Accept"),
                "body": self.rfile.read(size).decode(),
            }
        )
        reply = self.server.replies.pop(0) if self.server.replies else Reply(500)
        if reply.hang:
            # Holds the answer until the test ends: the claim's time-out must give up first.
            self.server.release.wait(30)
            return
        self.send_response(reply.status)
        for name, value in {"Content-Type": "application/json", **reply.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class TrustedForm:
    """A TrustedForm stand-in: answers POSTs with `replies` in order (then 500s)."""

    def __init__(self) -> None:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self.replies = self._httpd.replies = []
        self.requests = self._httpd.requests = []
        self.release = self._httpd.release = threading.Event()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/"

    def close(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def trustedform(settings: Any) -> Iterator[TrustedForm]:
    server = TrustedForm()
    settings.LEADPOST_TRUSTEDFORM_BASE = server.base
    settings.LEADPOST_FETCH_ALLOW_LOOPBACK = True
    settings.LEADPOST_FETCH_BACKOFF_SECONDS = 0  # a retry is due at once, in the same batch
    settings.LEADPOST_FETCH_MAX_TRIES = 3
    settings.LEADPOST_FETCH_TIMEOUT = 1
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def keyed(agency: Account) -> Account:
    agency.trustedform_api_key = encrypt_secret(KEY)
    agency.save()
    return agency


def post_certificate(post: PostFn) -> int:
    answer = post({"firstName": "Jane", "lastName": "Doe", "xxTrustedFormCertUrl": CERT}).json()
    assert answer["result"] == "created", answer
    return int(answer["recordId"])


def claim_of(client: Client, api_token: str, record_id: int) -> dict[str, Any]:
    reply = client.get(f"/api/v1/records/{record_id}", HTTP_AUTHORIZATION=f"Bearer {api_token}")
    claim: dict[str, Any] = reply.json()["consent"]["claim"]
    assert KEY not in reply.content.decode()
    return claim


def record_page(client: Client, agency: Account, staff_member: Any, record_id: int) -> str:
    client.force_login(staff_member(agency, "dee", Permission.MANAGE_DATA))
    html = client.get(f"/staff/records/individual/{record_id}/change/").content.decode()
    client.logout()
    return html


def test_a_certificate_is_claimed_and_the_claim_shown(
    post: PostFn,
    client: Client,
    api_token: str,
    keyed: Account,
    trustedform: TrustedForm,
    staff_member: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    trustedform.replies.append(Reply(201, json.dumps(CLAIMED).encode()))
    record_id = post_certificate(post)
    assert claim_of(client, api_token, record_id)["state"] == "pending"
    with caplog.at_level(logging.DEBUG):
        run_worker()

    [sent] = trustedform.requests
    assert sent["path"] == f"/{CERT_ID}"
    assert sent["authorization"] == "Basic " + base64.b64encode(f"API:{KEY}".encode()).decode()
    assert sent["accept"] == "application/json"
    assert sent["body"] == f"reference={record_id}"
    claim = claim_of(client, api_token, record_id)
    assert claim["state"] == "claimed" and claim["attempts"] == 1 and claim["error"] is None
    assert claim["expiresAt"] == "2027-02-28T17:04:45+00:00"
    assert claim["claimedAt"] is not None
    assert claim["pageUrl"] == "https://quotes.example.com/life"
    assert claim["consentText"] == "By clicking Submit I agree to be called."
    html = record_page(client, keyed, staff_member, record_id)
    assert "claimed 20" in html and "expires 2027-02-28T17:04:45+00:00" in html
    assert KEY not in html and KEY not in caplog.text


def test_ssn_shapes_in_trustedform_s_answer_are_masked_before_they_are_kept(
    post: PostFn,
    client: Client,
    api_token: str,
    keyed: Account,
    trustedform: TrustedForm,
    staff_member: Any,
) -> None:
    # The certificate's page URL and snapshot are the consumer's page: what they typed in it
    # must not reach the record page, the API or webhooks in clear (SPEC §9).
    typed = {
        **CLAIMED,
        "cert": {
            **CLAIMED["cert"],
            "page_url": "https://quotes.example.com/life?ssn=123456789",
            "consent_text": "SSN 123-45-6789. By clicking Submit I agree to be called.",
        },
    }
    trustedform.replies.append(Reply(200, json.dumps(typed).encode()))
    record_id = post_certificate(post)
    run_worker()
    claim = claim_of(client, api_token, record_id)
    assert claim["state"] == "claimed"
    assert claim["pageUrl"] == "https://quotes.example.com/life?ssn=***-**-6789"
    assert claim["consentText"] == "SSN ***-**-6789. By clicking Submit I agree to be called."
    html = record_page(client, keyed, staff_member, record_id)
    assert "123456789" not in html and "123-45-6789" not in html


def test_a_wrong_key_fails_at_once_and_says_so(
    post: PostFn,
    client: Client,
    api_token: str,
    keyed: Account,
    trustedform: TrustedForm,
    staff_member: Any,
) -> None:
    trustedform.replies.append(Reply(401, b'{"message": "Invalid API key"}'))
    record_id = post_certificate(post)
    run_worker()
    claim = claim_of(client, api_token, record_id)
    assert claim["state"] == "failed" and claim["attempts"] == 1
    assert "refused the API key (HTTP 401)" in claim["error"]
    html = record_page(client, keyed, staff_member, record_id)
    assert "failed: TrustedForm refused the API key (HTTP 401)" in html and KEY not in html


def test_an_unknown_certificate_fails_without_retry(
    post: PostFn, client: Client, api_token: str, keyed: Account, trustedform: TrustedForm
) -> None:
    trustedform.replies.append(Reply(404, b"{}"))
    record_id = post_certificate(post)
    run_worker()
    claim = claim_of(client, api_token, record_id)
    assert (claim["state"], claim["attempts"]) == ("failed", 1)
    assert "no such certificate (HTTP 404)" in claim["error"]
    assert len(trustedform.requests) == 1


def test_a_server_error_is_retried_and_the_retry_claims(
    post: PostFn, client: Client, api_token: str, keyed: Account, trustedform: TrustedForm
) -> None:
    trustedform.replies += [Reply(500, b"oops"), Reply(200, json.dumps(CLAIMED).encode())]
    record_id = post_certificate(post)
    run_worker()
    claim = claim_of(client, api_token, record_id)
    assert (claim["state"], claim["attempts"], claim["error"]) == ("claimed", 2, None)


def test_server_errors_give_up_after_the_last_try_with_the_error_shown(
    post: PostFn, client: Client, api_token: str, keyed: Account, trustedform: TrustedForm
) -> None:
    record_id = post_certificate(post)  # no replies queued: every answer is a 500
    run_worker()
    claim = claim_of(client, api_token, record_id)
    assert (claim["state"], claim["attempts"]) == ("failed", 3)
    assert claim["error"] == "gave up after 3 tries: TrustedForm answered HTTP 500"
    assert len(trustedform.requests) == 3


def test_a_claim_that_times_out_is_retried(
    post: PostFn, client: Client, api_token: str, keyed: Account, trustedform: TrustedForm
) -> None:
    trustedform.replies += [Reply(0, hang=True), Reply(201, json.dumps(CLAIMED).encode())]
    record_id = post_certificate(post)
    run_worker()
    claim = claim_of(client, api_token, record_id)
    assert (claim["state"], claim["attempts"]) == ("claimed", 2)


def test_a_huge_answer_is_not_read_and_fails(
    post: PostFn, client: Client, api_token: str, keyed: Account, trustedform: TrustedForm
) -> None:
    trustedform.replies.append(Reply(200, b'{"x": "' + b"a" * (MAX_ANSWER_BYTES + 10) + b'"}'))
    record_id = post_certificate(post)
    run_worker()
    claim = claim_of(client, api_token, record_id)
    assert claim["state"] == "failed"
    assert f"larger than {MAX_ANSWER_BYTES} bytes" in claim["error"]


def test_a_redirect_is_not_followed(
    post: PostFn, client: Client, api_token: str, keyed: Account, trustedform: TrustedForm
) -> None:
    trustedform.replies.append(Reply(302, b"", {"Location": "http://169.254.169.254/latest"}))
    record_id = post_certificate(post)
    run_worker()
    claim = claim_of(client, api_token, record_id)
    assert claim["state"] == "failed" and "redirect (HTTP 302)" in claim["error"]
    assert len(trustedform.requests) == 1


def test_an_expired_certificate_is_kept_as_expired(
    post: PostFn, client: Client, api_token: str, keyed: Account, trustedform: TrustedForm
) -> None:
    trustedform.replies.append(
        Reply(201, json.dumps({**CLAIMED, "expires_at": "2020-01-01T00:00:00Z"}).encode())
    )
    record_id = post_certificate(post)
    run_worker()
    claim = claim_of(client, api_token, record_id)
    assert claim["state"] == "expired" and claim["claimedAt"] is None
    post_certificate_again = post(
        {"firstName": "A", "lastName": "B", "trustedFormCertUrl": CERT}
    ).json()["recordId"]
    trustedform.replies.append(Reply(410, b"{}"))
    run_worker()
    assert claim_of(client, api_token, post_certificate_again)["state"] == "expired"


def test_a_json_answer_that_is_not_an_object_fails(
    post: PostFn, client: Client, api_token: str, keyed: Account, trustedform: TrustedForm
) -> None:
    trustedform.replies.append(Reply(200, b"not json at all \x00\xff"))
    record_id = post_certificate(post)
    run_worker()
    assert claim_of(client, api_token, record_id)["error"] == "TrustedForm's answer is not JSON"


def test_without_a_key_nothing_is_sent(
    post: PostFn, client: Client, api_token: str, agency: Account, trustedform: TrustedForm
) -> None:
    record_id = post_certificate(post)
    run_worker()
    assert claim_of(client, api_token, record_id)["state"] == "no_key"
    assert trustedform.requests == []


def test_a_key_removed_before_the_claim_stops_it(
    post: PostFn, client: Client, api_token: str, keyed: Account, trustedform: TrustedForm
) -> None:
    record_id = post_certificate(post)
    keyed.trustedform_api_key = ""
    keyed.save()
    run_worker()
    assert claim_of(client, api_token, record_id)["state"] == "no_key"
    assert trustedform.requests == []


def test_the_sweep_finds_a_claim_whose_task_was_lost(
    post: PostFn,
    client: Client,
    api_token: str,
    keyed: Account,
    trustedform: TrustedForm,
    settings: Any,
) -> None:
    record_id = post_certificate(post)
    DBTaskResult.objects.all().delete()  # the task is lost (a crash before the worker saw it)
    trustedform.replies.append(Reply(201, json.dumps(CLAIMED).encode()))
    assert sweep_claims() == 0  # within the grace period its task may still be coming
    settings.LEADPOST_SWEEP_GRACE_SECONDS = 0  # the grace period is over
    assert sweep_claims() == 1
    run_worker()
    assert claim_of(client, api_token, record_id)["state"] == "claimed"
