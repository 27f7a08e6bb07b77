"""`/healthz` and `/readyz`, for load balancers, answered by the ASGI front before Django.

A load balancer asks with whatever Host it likes (often the server's address), so these two paths
are answered before Django's ALLOWED_HOSTS, sessions, CSRF and the lead endpoint's limits: none of
them applies to a probe, and a probe must never cost a session row or a rate-limit slot.

- `/healthz`: the process is alive and its event loop answers. Nothing else is checked: a load
  balancer or supervisor restarting a process on it must not restart every server because the
  database is down.
- `/readyz`: this server can take leads now. Three checks, run in a thread of their own (never the
  app's threads, which may all be busy with posts; never the event loop, which a slow check would
  stop), one check at a time per process however many probes arrive:
  - database: a real `SELECT 1` every time (a kept connection that fails is retried once on a new
    one, so a database restart costs no false "unready"); the connect timeout is
    `LEADPOST_DB_CONNECT_TIMEOUT`;
  - migrations: none of this code's migrations is unapplied (Django's migration executor); kept
    once found true, since migrations are not unapplied under a running server;
  - storage: a small probe object is written to and deleted from the attachments' storage; a
    success is kept for `_STORAGE_FRESH_SECONDS`.
  200 `{"ready": true, ...}` when all pass, else 503 naming each check's state. The answer names a
  failure's kind (an exception's class), never its text: the text (host names, paths) goes to the
  log, once when a check starts failing and once when it passes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
PATHS = (HEALTH_PATH, READY_PATH)

OK = "ok"
NOT_CHECKED = "not checked"  # migrations, while the database is out of reach
# Longer than the database's connect timeout by default, shorter than load balancers' usual probe
# time-out (haproxy's `timeout check` defaults to the connect time-out, often 5 s).
_DEADLINE_SECONDS = 4.5
_STORAGE_FRESH_SECONDS = 10.0

_JSON = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


def _failed(exc: BaseException) -> str:
    return f"failed ({type(exc).__name__})"


def check_database() -> str:
    from django.db import connection

    for attempt in (1, 2):
        kept = connection.connection is not None
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            return OK
        except Exception as exc:
            _close_quietly()
            if attempt == 2 or not kept:
                logger.debug("readiness: database check failed", exc_info=True)
                raise _CheckFailed(_failed(exc), exc) from exc
    raise AssertionError("unreachable")


def _close_quietly() -> None:
    from django.db import connection

    with contextlib.suppress(Exception):  # a broken connection may fail to close: dropped anyway
        connection.close()


def check_migrations() -> str:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        _close_quietly()
        raise _CheckFailed(_failed(exc), exc) from exc
    if plan:
        raise _CheckFailed(f"{len(plan)} unapplied", None)
    return OK


def check_storage() -> str:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    try:
        name = default_storage.save(
            f"readyz/probe-{os.getpid()}-{secrets.token_hex(4)}", ContentFile(b"readyz\n")
        )
        default_storage.delete(name)
    except Exception as exc:
        raise _CheckFailed(_failed(exc), exc) from exc
    return OK


class _CheckFailed(Exception):
    def __init__(self, state: str, cause: BaseException | None) -> None:
        super().__init__(state)
        self.state = state
        self.cause = cause


class Readiness:
    """The readiness of this process, checked at most once at a time."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadpost-readyz")
        self._running: asyncio.Task[None] | None = None
        self._states: dict[str, str] = {}
        self._migrated = False
        self._storage_ok_at = -1e9
        self._failing: set[str] = set()

    async def check(self) -> tuple[bool, dict[str, str]]:
        # A probe arriving during a check waits for that check instead of starting another:
        # a hung database holds one thread, not one per probe.
        if self._running is None or self._running.done():
            self._states = dict.fromkeys(("database", "migrations", "storage"), NOT_CHECKED)
            self._running = asyncio.get_running_loop().create_task(self._run(self._states))
        states = self._states
        try:
            await asyncio.wait_for(asyncio.shield(self._running), _DEADLINE_SECONDS)
        except TimeoutError:
            states = {
                name: ("timed out" if state == "checking" else state)
                for name, state in states.items()
            }
        states = dict(states)
        return all(state == OK for state in states.values()), states

    async def _run(self, states: dict[str, str]) -> None:
        loop = asyncio.get_running_loop()

        async def run(name: str, check: Callable[[], str]) -> bool:
            states[name] = "checking"
            try:
                states[name] = await loop.run_in_executor(self._pool, check)
            except Exception as exc:  # a check's own failure, or one nobody foresaw: unready
                failed = exc if isinstance(exc, _CheckFailed) else _CheckFailed(_failed(exc), exc)
                states[name] = failed.state
                self._report(name, failed)
                return False
            self._report(name, None)
            return True

        if await run("database", check_database):
            if self._migrated:
                states["migrations"] = OK
            else:
                self._migrated = await run("migrations", check_migrations)
        if time.monotonic() - self._storage_ok_at < _STORAGE_FRESH_SECONDS:
            states["storage"] = OK
        elif await run("storage", check_storage):
            self._storage_ok_at = time.monotonic()

    def _report(self, name: str, failed: _CheckFailed | None) -> None:
        """A line when a check starts failing (with the cause's text) and when it passes again."""
        if failed is not None and name not in self._failing:
            self._failing.add(name)
            cause = f": {failed.cause}" if failed.cause is not None else ""
            logger.warning("not ready: %s %s%s", name, failed.state, cause)
        elif failed is None and name in self._failing:
            self._failing.discard(name)
            logger.warning("ready again: %s", name)


async def answer(path: str, method: str, readiness: Readiness, send: Any) -> None:
    body: dict[str, Any]
    if method not in ("GET", "HEAD"):
        status, body = 405, {"error": "GET or HEAD only"}
        headers = [*_JSON, (b"allow", b"GET, HEAD")]
    elif path == HEALTH_PATH:
        status, body, headers = 200, {"alive": True}, _JSON
    else:
        ready, states = await readiness.check()
        status, body, headers = (200 if ready else 503), {"ready": ready, "checks": states}, _JSON
        if not ready:
            body["failing"] = [
                name for name, state in states.items() if state not in (OK, NOT_CHECKED)
            ]
    data = json.dumps(body).encode() + b"\n"
    headers = [*headers, (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else data})
