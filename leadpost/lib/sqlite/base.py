"""Django's SQLite backend with its writers queued instead of sleeping.

SQLite takes one writer at a time. A writer that finds the lock taken is made to wait by SQLite's
busy handler, which sleeps 1, 2, 5, 10, ... up to 100 ms between tries: with several threads and
processes posting at once, a post waited far longer than the write it waited for (bench/README.md).
Here every write transaction first takes a lock of its own: threads of one process queue on a
`threading.Lock` (handed over at once), and processes on an `flock` of a file beside the database,
tried every fraction of a millisecond by the one thread per process that is next. Both give up
after the database's own time-out, as SQLite would ("database is locked": a 503 to the vendor).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_process_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _process_lock(name: str) -> threading.Lock:
    with _guard:
        return _process_locks.setdefault(name, threading.Lock())


class DatabaseWrapper(base.DatabaseWrapper):
    _lock_fd: int | None = None
    _holding = False

    def _lock_path(self) -> str | None:
        name = str(self.settings_dict["NAME"])
        if not name or ":memory:" in name or "mode=memory" in name:
            return None
        return name + ".writers"

    def _take_writer_lock(self) -> None:
        path = self._lock_path()
        if path is None or self._holding:
            return
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        deadline = time.monotonic() + timeout
        in_process = _process_lock(path)
        if not in_process.acquire(timeout=timeout):
            raise OperationalError("database is locked (waited for the other writers)")
        try:
            if self._lock_fd is None:
                self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            pause = 0.0001
            while True:
                try:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise OperationalError(
                            "database is locked (waited for another process's writer)"
                        ) from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.002)
        except BaseException:
            in_process.release()
            raise
        self._holding = True

    def _release_writer_lock(self) -> None:
        if not self._holding:
            return
        self._holding = False
        path = self._lock_path()
        try:
            if self._lock_fd is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        finally:
            if path is not None:
                _process_lock(path).release()

    def _start_transaction_under_autocommit(self) -> None:
        self._take_writer_lock()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._release_writer_lock()
            raise

    def _commit(self) -> Any:
        try:
            return super()._commit()  # type: ignore[misc]
        finally:
            self._release_writer_lock()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]
        finally:
            self._release_writer_lock()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]
        finally:
            self._release_writer_lock()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
