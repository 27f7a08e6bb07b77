"""The one configuration of Leadpost's HTTP server, used by `leadpost serve`, the benchmarks and
the production docs alike.

Granian (a Rust HTTP server) parses HTTP and holds connections, idle and slow ones included, at
no cost to Python; `leadpost.asgi` receives each body whole on the event loop before Django runs
in a pool of threads. Run as `python -m leadpost.server [--bind HOST:PORT] [--workers N]`; every
other knob is a setting (README.md, "Settings").
"""

from __future__ import annotations

import argparse
import os
import sys
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
    return ServerConfig(
        host=host,
        port=port,
        workers=count or (os.cpu_count() or 1),
        threads=settings.LEADPOST_THREADS,
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
            "LEADPOST_FETCH_ALLOW_LOOPBACK=1: attachment URLs may reach this machine's own ports."
        )
    if settings.DEBUG:
        found.append("LEADPOST_DEBUG=1: error pages show settings and code. Never in production.")
    return found


def log_config() -> dict[str, Any]:
    """Granian's own log lines go through the same redacting filter as the app's (SPEC §9)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "leadpost.lib.logredact.RedactingFilter"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
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

    try:
        django.setup()
        cfg = config(args.bind, args.workers)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"leadpost: {exc}\n")
        return 2
    server(cfg).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
