from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from leadpost.consent.tasks import sweep_claims
from leadpost.records.tasks import sweep
from leadpost.routing.tasks import relay_notifications, sweep_notifications
from leadpost.server import unsafe_settings
from leadpost.vendors.rollup import roll_up
from leadpost.webhooks.tasks import relay_events, sweep_webhooks

# How often the relay looks for new events and e-mails when there were none: they go out within
# about this long of the vendor's 200 (SPEC §12: at once).
RELAY_INTERVAL = 0.25

logger = logging.getLogger("leadpost.worker")


def _sweep_forever(interval: int, stop: threading.Event) -> None:
    """Every `interval` seconds, re-enqueue downloads whose worker died (see records.tasks.sweep)."""
    while not stop.wait(interval):
        try:
            close_old_connections()
            sweep()
            sweep_notifications()
            sweep_webhooks()
            sweep_claims()
            roll_up()
        except Exception:
            # A sweep that fails (database restarting) is tried again at the next interval.
            logger.exception("attachment sweep failed")
        finally:
            connection.close()


def relay_once() -> int:
    """Enqueue what the lead path wrote without a task (webhook events, agent e-mails)."""
    return relay_events() + relay_notifications()


def _relay_forever(stop: threading.Event) -> None:
    """The outbox's relay: new events and e-mails get their tasks, at once while there are
    more, else after RELAY_INTERVAL."""
    while not stop.is_set():
        try:
            done = relay_once()
        except Exception:
            # A database restarting: tried again at the next interval, on a new connection.
            logger.exception("relay failed")
            connection.close()
            done = 0
        if not done:
            stop.wait(RELAY_INTERVAL)
    connection.close()


class Command(DbWorkerCommand):
    help = (
        "Run background work: attachment downloads, agent e-mails and webhook deliveries "
        "(django-tasks-db's db_worker); the relay that gives new webhook events and e-mails "
        "their tasks, four times a second; and, every LEADPOST_SWEEP_INTERVAL seconds, the "
        "sweep that finds work a dead worker left and the roll-up of closed days into the "
        "vendor counters."
    )

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        # An idle worker looks for new work this often: an agent's e-mail and a webhook go out
        # within about this long of the vendor's 200 (SPEC §12: at once). The look-up is one
        # indexed query, so a quarter second costs an idle database little.
        parser.set_defaults(interval=0.25)

    def handle(self, *args: Any, **options: Any) -> None:
        for warning in unsafe_settings():
            self.stderr.write(f"WARNING: {warning}")
        stop = threading.Event()
        sweeper = threading.Thread(
            target=_sweep_forever,
            args=(settings.LEADPOST_SWEEP_INTERVAL, stop),
            name="attachment-sweep",
            daemon=True,
        )
        # One sweep at start: work left by a worker that died before this one started (downloads,
        # agent e-mails and webhook deliveries alike: each has its own row and its own sweep).
        try:
            sweep()
            sweep_notifications()
            sweep_webhooks()
            sweep_claims()
            roll_up()
        except Exception:
            logger.exception("attachment sweep failed")
        if options.get("batch"):
            # A batch run (tests, a cron) does what is there now and stops: relayed first.
            while relay_once():
                pass
        else:
            threading.Thread(
                target=_relay_forever, args=(stop,), name="outbox-relay", daemon=True
            ).start()
        sweeper.start()
        started = time.monotonic()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
            logger.info("worker stopped after %.0f s", time.monotonic() - started)
