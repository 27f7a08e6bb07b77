from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the production HTTP server (gunicorn) for Leadpost."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bind", default=os.environ.get("LEADPOST_BIND", "127.0.0.1:8000"), help="HOST:PORT"
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("LEADPOST_WORKERS", "0")) or (os.cpu_count() or 1),
            help="Web worker processes (default: one per core).",
        )
        parser.add_argument(
            "--no-worker",
            dest="worker",
            action="store_false",
            help="Do not start a background worker (run `leadpost worker` elsewhere).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "leadpost.wsgi:application",
            "--bind",
            options["bind"],
            "--workers",
            str(options["workers"]),
            # Vendors post large bodies (25 files of base64); a slow upload must not be cut at 30s.
            "--timeout",
            os.environ.get("LEADPOST_REQUEST_TIMEOUT", "120"),
            "--graceful-timeout",
            "30",
            "--access-logfile",
            "-",
            # The path carries the URL's secret token: this logger cuts it to its prefix.
            "--logger-class",
            "leadpost.lib.gunicorn_logging.RedactingLogger",
            "--access-logformat",
            '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms "%(a)s"',
        ]
        self.stdout.write(
            f"Serving Leadpost on http://{options['bind']} ({options['workers']} workers"
            + (", with a background worker)" if options["worker"] else ")")
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
    server = subprocess.Popen(server_argv)  # noqa: S603 - our own interpreter and arguments
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
        server.send_signal(signum)
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    threading.Thread(target=keep_worker, name="worker-keeper", daemon=True).start()
    code = server.wait()
    stopping.set()
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
    return code
