from __future__ import annotations

import os
import sys
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
            help="Worker processes (default: one per core).",
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
            f"Serving Leadpost on http://{options['bind']} ({options['workers']} workers)"
        )
        self.stdout.flush()
        os.execv(sys.executable, argv)  # noqa: S606 - replaces this process with the server
