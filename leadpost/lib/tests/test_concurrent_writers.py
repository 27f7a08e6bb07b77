"""Concurrent writers all get through: on SQLite through the backend's writer queue
(leadpost/lib/sqlite/base.py), on PostgreSQL as they are."""

from __future__ import annotations

import threading

import pytest
from django.db import connections, transaction

from leadpost.accounts.models import Account

pytestmark = pytest.mark.django_db(transaction=True)


def test_sixteen_threads_writing_at_once_all_commit():
    start = threading.Barrier(16)
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(10):
                with transaction.atomic():
                    Account.objects.create(name=f"Agency {n}-{i}")
        except BaseException as exc:  # reported below, with the thread's own error
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert Account.objects.count() == 160
