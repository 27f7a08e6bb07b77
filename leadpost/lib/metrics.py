"""Prometheus metrics: what the lead endpoint answered, how fast, and the background queues.

Granian runs several worker processes, and a scrape must see them all: `leadpost.server` makes a
fresh folder for prometheus_client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`) before any
worker starts, each worker writes its counts there (a memory-mapped file per process, no lock
between processes), and the master process serves the sum of every file on
`LEADPOST_METRICS_BIND`, an address apart from the one vendors post to (README.md, "Health and
metrics"). Only counters and histograms live in the workers: they add up across processes, and a
worker that died keeps its counts in the sum. The queues are read from the database at scrape
time (`QueueCollector`), so they are true whichever process or machine did the work.

Labels are bounded: a Lead Post URL is named by its id, never by its token (SPEC §9), results are
`PostResult`'s values, and no path or client address is ever a label.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Not registered with prometheus_client's global registry: the scrape reads them from the
# multiprocess files (or, without that mode, from `scrape_registry`).
_registry = CollectorRegistry()

LEAD_POSTS = Counter(
    "leadpost_lead_posts",
    "Posts answered by the lead endpoint, by Lead Post URL id ('none': no known URL) and result.",
    ["url", "result"],
    registry=_registry,
)
LEAD_POST_SECONDS = Histogram(
    "leadpost_lead_post_seconds",
    "Time from a lead post's arrival to its answer, its body's upload included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120),
    registry=_registry,
)


def count_post(url_id: int | None, result: str) -> None:
    LEAD_POSTS.labels("none" if url_id is None else str(url_id), result).inc()


class QueueCollector(Collector):
    """Attachment downloads and agent e-mails waiting or failed, counted in the database at
    scrape time (the rows are the truth, CONVENTIONS "Background work").

    Each count uses the `(state, next_attempt_at)` index of its table. A database out of reach
    makes `leadpost_queue_scrape_ok` 0 instead of failing the scrape: the other metrics still
    arrive.
    """

    def __init__(self, *, close_connection: bool = True) -> None:
        # A scrape runs in a thread of its own, whose connection nothing reuses.
        self.close_connection = close_connection

    def collect(self) -> Iterator[Any]:
        from django.db import DatabaseError, connection

        from leadpost.records.models import Attachment, AttachmentState
        from leadpost.routing.models import AgentNotification, NotificationState
        from leadpost.webhooks.models import DeliveryState, WebhookDelivery

        downloads = GaugeMetricFamily(
            "leadpost_attachment_downloads",
            "URL attachments not downloaded yet (pending) or given up on (failed).",
            labels=["state"],
        )
        emails = GaugeMetricFamily(
            "leadpost_agent_emails",
            "E-mails to agents not sent yet (pending) or given up on (failed).",
            labels=["state"],
        )
        webhooks = GaugeMetricFamily(
            "leadpost_webhook_deliveries",
            "Webhook deliveries not made yet (pending), waiting for a paused webhook (paused) "
            "or given up on (failed).",
            labels=["state"],
        )
        ok = 1
        try:
            for family, model, states in (
                (downloads, Attachment, (AttachmentState.PENDING, AttachmentState.FAILED)),
                (emails, AgentNotification, (NotificationState.PENDING, NotificationState.FAILED)),
                (
                    webhooks,
                    WebhookDelivery,
                    (DeliveryState.PENDING, DeliveryState.PAUSED, DeliveryState.FAILED),
                ),
            ):
                for state in states:
                    family.add_metric([str(state)], model.objects.filter(state=state).count())
        except DatabaseError as exc:
            ok = 0
            logger.warning("metrics: queues not counted, database unavailable: %s", exc)
        finally:
            if self.close_connection:
                connection.close()
        if ok:
            yield downloads
            yield emails
            yield webhooks
        scrape_ok = GaugeMetricFamily(
            "leadpost_queue_scrape_ok", "1 if the queues above were counted in the database."
        )
        scrape_ok.add_metric([], ok)
        yield scrape_ok


class _ThisProcess(Collector):
    def collect(self) -> Iterator[Any]:
        yield from _registry.collect()


def scrape_registry(*, close_connection: bool = True) -> CollectorRegistry:
    """What a scrape reads: every worker's counts (multiprocess mode, under `leadpost.server`)
    or this process's own, and the queues."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(QueueCollector(close_connection=close_connection))
    return registry


def serve(host: str, port: int) -> Any:
    """Serve the scrape on host:port from a thread of this (the master) process."""
    server, _thread = start_http_server(port, addr=host, registry=scrape_registry())
    return server
