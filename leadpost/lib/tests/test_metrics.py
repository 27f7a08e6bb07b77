"""Prometheus metrics as an operator's Prometheus sees them: scraped from `LEADPOST_METRICS_BIND`
of a real `leadpost serve` with 2 worker processes, counts summed over both."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from leadpost.intake.models import LeadPostUrl
from leadpost.lib.metrics import scrape_registry
from leadpost.records.models import Attachment, AttachmentState, Record
from leadpost.records.tasks import download
from leadpost.routing.models import AgentNotification, NotificationState
from leadpost.routing.tasks import notify_agent

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def metrics_port() -> int:
    return _free_port()


@pytest.fixture
def served_env(metrics_port: int, tmp_path: Path) -> dict[str, str]:
    # The server's temporary folder is the test's, to see which processes wrote counts.
    (tmp_path / "tmp").mkdir()
    return {"LEADPOST_METRICS_BIND": f"127.0.0.1:{metrics_port}", "TMPDIR": str(tmp_path / "tmp")}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _posts(samples: dict, url: str, result: str) -> float:
    return samples.get(("leadpost_lead_posts_total", (("result", result), ("url", url))), 0.0)


def _counting_processes(tmp_path: Path) -> int:
    """How many processes have written post counts to this start's multiprocess folder."""
    return len(list((tmp_path / "tmp").glob("leadpost-metrics-*/counter_*.db")))


@pytest.mark.django_db(transaction=True)
def test_a_scrape_counts_every_workers_posts_by_url_id_and_result(
    served, metrics_port, agency, tmp_path
):
    datalot, datalot_token = LeadPostUrl.issue(agency, "Datalot")
    quinstreet, quinstreet_token = LeadPostUrl.issue(agency, "QuinStreet")
    scrape = f"http://127.0.0.1:{metrics_port}/metrics"
    before = _samples(httpx.get(scrape, timeout=15).text)  # the server's own start-up probe

    made = {"created": 0, "rejected": 0, "unknown": 0}
    lock = threading.Lock()

    def post(kind: str, n: int) -> None:
        if kind == "created":
            url = f"{served}/leadpost/{datalot_token}"
            body = {"firstName": "Ann", "lastName": "Lee", "externalID": f"M-{n}"}
        elif kind == "rejected":
            url = f"{served}/leadpost/{quinstreet_token}"
            body = {"firstName": "no last name"}
        else:
            url = f"{served}/leadpost/not-a-known-token-{n}"
            body = {"firstName": "Ann", "lastName": "Lee"}
        # A new connection each: the kernel hands them to either worker.
        answer = httpx.post(url, content=urlencode(body), headers=FORM, timeout=30)
        assert answer.status_code == {"created": 200, "rejected": 400, "unknown": 404}[kind]
        with lock:
            made[kind] += 1

    # Posts go on, 8 at a time, until both workers have counted some (bounded).
    deadline = time.monotonic() + 60
    n = 0
    with ThreadPoolExecutor(8) as pool:
        while n < 24 or _counting_processes(tmp_path) < 2:
            assert time.monotonic() < deadline, "one worker took every post for 60 s"
            kinds = ["created"] * 4 + ["rejected"] * 3 + ["unknown"]
            list(pool.map(post, kinds, range(n, n + len(kinds))))
            n += len(kinds)
    duplicate = httpx.post(
        f"{served}/leadpost/{datalot_token}",
        content=urlencode({"firstName": "Ann", "lastName": "Lee", "externalID": "M-0"}),
        headers=FORM,
        timeout=30,
    )
    assert duplicate.json()["result"] == "duplicate"

    text = httpx.get(scrape, timeout=15).text
    after = _samples(text)
    delta = {
        (url, result): _posts(after, url, result) - _posts(before, url, result)
        for url, result in [
            (str(datalot.pk), "created"),
            (str(datalot.pk), "duplicate"),
            (str(quinstreet.pk), "rejected"),
            ("none", "unknown_url"),
        ]
    }
    assert delta == {
        (str(datalot.pk), "created"): made["created"],
        (str(datalot.pk), "duplicate"): 1,
        (str(quinstreet.pk), "rejected"): made["rejected"],
        ("none", "unknown_url"): made["unknown"],
    }
    assert made["created"] == Record.objects.count()
    answered = sum(made.values()) + 1
    count = ("leadpost_lead_post_seconds_count", ())
    assert after[count] - before.get(count, 0.0) == answered
    assert _counting_processes(tmp_path) >= 2
    # Labelled by id: no token (nor its start) in what Prometheus stores.
    for token in (datalot_token, quinstreet_token):
        assert token not in text and token[:6] not in text
    # Vendors' address does not serve them.
    assert httpx.get(f"{served}/metrics", timeout=10).status_code == 404


@pytest.mark.django_db
def test_the_queues_are_counted_in_the_database_at_scrape_time(post, alice, vendor_url):
    for n in (1, 2):
        answer = post(
            {
                "firstName": "Ann",
                "lastName": f"Lee {n}",
                "servicingAgentFirstName": "Alice",
                "servicingAgentLastName": "Agent",
                "attachment_note_1_subject_text": "Files",
                "attachment_note_1_body_text": "see the file",
                "attach_file_to_note_1": "1",
                "attachment_note_1_file_name_1": "quote.pdf",
                # A private address: refused at once when its download is tried.
                "attachment_note_1_file_url_1": f"http://10.0.0.{n}/quote.pdf",
            }
        )
        assert answer.status_code == 200, answer.content
    records = list(Record.objects.order_by("pk"))
    assert all(record.servicing_agent == alice for record in records)
    # Each post asked for its agent's e-mail (SPEC §12).
    notifications = list(AgentNotification.objects.order_by("pk"))
    assert [n.record_id for n in notifications] == [r.pk for r in records]
    first_file = Attachment.objects.order_by("pk").first()
    assert first_file is not None
    assert download(first_file.pk) == AttachmentState.FAILED
    notify_agent.call(notifications[0].pk)  # alice has no e-mail address: failed at once
    assert AgentNotification.objects.filter(state=NotificationState.FAILED).count() == 1

    samples = _samples(generate_latest(scrape_registry(close_connection=False)).decode())
    assert {
        (name, state): samples[(name, (("state", state),))]
        for name in ("leadpost_attachment_downloads", "leadpost_agent_emails")
        for state in ("pending", "failed")
    } == {
        ("leadpost_attachment_downloads", "pending"): 1,
        ("leadpost_attachment_downloads", "failed"): 1,
        ("leadpost_agent_emails", "pending"): 1,
        ("leadpost_agent_emails", "failed"): 1,
    }
    assert samples[("leadpost_queue_scrape_ok", ())] == 1
