from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from leadpost import server


class Command(BaseCommand):
    help = (
        "Run Leadpost's HTTP server (granian, with the body-buffering front of leadpost.asgi) "
        "and, unless --no-worker, one background worker beside it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", help="HOST:PORT (default: LEADPOST_BIND, 127.0.0.1:8000)")
        parser.add_argument(
            "--workers",
            type=int,
            help="Web worker processes (default: LEADPOST_WORKERS, else one per core).",
        )
        parser.add_argument(
            "--no-worker",
            dest="worker",
            action="store_false",
            help="Do not start a background worker (run `leadpost worker` elsewhere).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cfg = server.config(options["bind"], options["workers"])
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        for warning in server.unsafe_settings():
            self.stderr.write(f"WARNING: {warning}")
        argv = [
            sys.executable,
            "-m",
            "leadpost.server",
            "--bind",
            cfg.bind,
            "--workers",
            str(cfg.workers),
        ]
        self.stdout.write(
            f"Serving Leadpost on http://{cfg.bind} ({cfg.workers} workers × {cfg.threads} "
            "threads" + (", with a background worker)" if options["worker"] else ")")
        )
        self.stdout.flush()
        if not options["worker"]:
            os.execv(sys.executable, argv)  # noqa: S606 - replaces this process with the server
        sys.exit(_serve_with_worker(argv))


def _serve_with_worker(server_argv: list[str]) -> int:
    """Run the web server and one background worker (attachment downloads) side by side.

    A one-machine install then needs a single command; larger installs run `serve --no-worker`
    on app servers and `leadpost worker` elsewhere. A worker that exits is started again.
    """
    worker_argv = [sys.executable, "-m", "leadpost.cli", "worker", "--no-startup-delay"]
    web = subprocess.Popen(server_argv)  # noqa: S603 - our own interpreter and arguments
    stopping = threading.Event()
    workers: list[subprocess.Popen[bytes]] = []

    def keep_worker() -> None:
        while not stopping.is_set():
            worker = subprocess.Popen(worker_argv)  # noqa: S603
            workers.append(worker)
            worker.wait()
            if not stopping.wait(2):  # pause before a restart so a crash loop does not spin
                sys.stderr.write(f"leadpost: worker exited ({worker.returncode}); restarting\n")

    def forward(signum: int, frame: object) -> None:
        stopping.set()
        web.send_signal(signum)
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    threading.Thread(target=keep_worker, name="worker-keeper", daemon=True).start()
    code = web.wait()
    stopping.set()
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
    return code
