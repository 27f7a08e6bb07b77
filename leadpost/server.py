"""The one configuration of Leadpost's HTTP server, used by `leadpost serve`, the benchmarks and
the production docs alike.

Granian (a Rust HTTP server) parses HTTP and holds connections, idle and slow ones included, at
no cost to Python; `leadpost.asgi` receives each body whole on the event loop before Django runs
in a pool of threads. Run as `python -m leadpost.server [--bind HOST:PORT] [--workers N]`; every
other knob is a setting (README.md, "Settings").

With `LEADPOST_METRICS_BIND` set, this (the master) process also serves the Prometheus scrape on
that address, summing every worker's counts from a folder made fresh for each start
(leadpost/lib/metrics.py); `/healthz` and `/readyz` are answered by every worker (lib/health.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str
    port: int
    workers: int
    threads: int
    metrics: tuple[str, int] | None = None  # where the Prometheus scrape is served, if anywhere

    @property
    def bind(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_bind(bind: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:8000` for IPv6) -> (host, port); ImproperlyConfigured when it is not."""
    host, sep, port = bind.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ImproperlyConfigured(f"the bind address must be HOST:PORT, not {bind!r}")
    return host, int(port)


def config(bind: str | None = None, workers: int | None = None) -> ServerConfig:
    host, port = parse_bind(bind or settings.LEADPOST_BIND)
    count = workers if workers is not None else settings.LEADPOST_WORKERS
    if count < 0:
        raise ImproperlyConfigured(
            f"the number of workers must be 0 (one per core) or more, not {count}"
        )
    metrics = None
    if settings.LEADPOST_METRICS_BIND:
        try:
            metrics = parse_bind(settings.LEADPOST_METRICS_BIND)
        except ImproperlyConfigured:
            raise ImproperlyConfigured(
                f"LEADPOST_METRICS_BIND must be HOST:PORT, not {settings.LEADPOST_METRICS_BIND!r}"
            ) from None
        if metrics == (host, port):
            raise ImproperlyConfigured(
                "LEADPOST_METRICS_BIND must differ from the address vendors post to"
            )
    return ServerConfig(
        host=host,
        port=port,
        workers=count or (os.cpu_count() or 1),
        threads=settings.LEADPOST_THREADS,
        metrics=metrics,
    )


def unsafe_settings() -> list[str]:
    """What this instance runs with that production must not: said at every start, loudly."""
    found = []
    if settings.DEV:
        found.append(
            "LEADPOST_DEV=1 (development): secrets are generated and kept in the data folder, "
            "any Host header is accepted, and cookies are sent without Secure. Never in production."
        )
    if settings.LEADPOST_FETCH_ALLOW_LOOPBACK:
        found.append(
            "LEADPOST_FETCH_ALLOW_LOOPBACK=1: attachment and webhook URLs may reach this machine's "
            "own ports."
        )
    if settings.LEADPOST_TRUSTEDFORM_BASE != "https://cert.trustedform.com/":
        found.append(
            f"LEADPOST_TRUSTEDFORM_BASE={settings.LEADPOST_TRUSTEDFORM_BASE}: TrustedForm "
            "certificates (and the agencies' API keys) go there, not to TrustedForm."
        )
    if settings.DEBUG:
        found.append("LEADPOST_DEBUG=1: error pages show settings and code. Never in production.")
    return found


def log_config() -> dict[str, Any]:
    """Granian's own log lines go through the same redacting filter as the app's (SPEC §9), in
    the same format (`LEADPOST_LOG_FORMAT`)."""
    from leadpost.lib.jsonlog import log_formatter

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "leadpost.lib.logredact.RedactingFilter"}},
        "formatters": {"leadpost": log_formatter(settings.LEADPOST_LOG_FORMAT)},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "leadpost",
                "filters": ["redact"],
            },
        },
        "loggers": {
            "_granian": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
    }


def server(cfg: ServerConfig) -> Any:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    return Granian(
        "leadpost.asgi:application",
        address=cfg.host,
        port=cfg.port,
        # No lifespan protocol: the app has nothing to start or stop per worker.
        interface=Interfaces.ASGINL,
        workers=cfg.workers,
        http=HTTPModes.http1,
        websockets=False,
        backlog=2048,
        # Requests in progress per worker, slow bodies included: far more than the app's threads,
        # since a request waiting for its body costs a coroutine, not a thread.
        backpressure=1024,
        http1_settings=HTTP1Settings(header_read_timeout=15_000, keep_alive=True),
        log_dictconfig=log_config(),
        log_access=False,  # the front writes the access log, through the redacting filter
        respawn_failed_workers=True,
        workers_kill_timeout=30,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leadpost.server", description=__doc__)
    parser.add_argument("--bind", help="HOST:PORT (default LEADPOST_BIND)")
    parser.add_argument("--workers", type=int, help="worker processes (default LEADPOST_WORKERS)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadpost.settings")
    import django

    metrics_dir = None
    try:
        if settings.LEADPOST_METRICS_BIND:
            # Before anything imports prometheus_client, which picks its storage on import: the
            # workers (forked from this process) then write their counts where the scrape reads.
            metrics_dir = tempfile.mkdtemp(prefix="leadpost-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        django.setup()
        cfg = config(args.bind, args.workers)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"leadpost: {exc}\n")
        return 2
    try:
        scrape = None
        if cfg.metrics is not None:
            from leadpost.lib import metrics

            try:
                scrape = metrics.serve(*cfg.metrics)
            except OSError as exc:
                sys.stderr.write(f"leadpost: cannot serve metrics on {cfg.metrics}: {exc}\n")
                return 2
        server(cfg).serve()
        if scrape is not None:
            scrape.shutdown()
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
