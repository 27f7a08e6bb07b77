"""`/healthz` and `/readyz` as a load balancer sees them: through a real `leadpost serve`, with the
Host header a balancer sends (the server's own address), and unready for each reason it can be."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)

BALANCER_HOST = "10.20.30.40:8000"  # not in ALLOWED_HOSTS: Django would answer 400


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ready(served: str) -> httpx.Response:
    return httpx.get(f"{served}/readyz", headers={"Host": BALANCER_HOST}, timeout=15)


def test_healthz_and_readyz_answer_a_balancer_whatever_its_host_header(served):
    alive = httpx.get(f"{served}/healthz", headers={"Host": BALANCER_HOST}, timeout=10)
    assert alive.status_code == 200
    assert alive.json() == {"alive": True}
    ready = _ready(served)
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "ready": True,
        "checks": {"database": "ok", "migrations": "ok", "storage": "ok"},
    }
    for answer in (alive, ready):
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["cache-control"] == "no-store"
        assert "set-cookie" not in answer.headers  # no session, no CSRF cookie
    # The same Host on any other page is refused, as before: only the probes skip the check.
    page = httpx.get(f"{served}/staff/login/", headers={"Host": BALANCER_HOST}, timeout=10)
    assert page.status_code == 400
    head = httpx.head(f"{served}/readyz", headers={"Host": BALANCER_HOST}, timeout=10)
    assert (head.status_code, head.content) == (200, b"")
    post = httpx.post(f"{served}/readyz", headers={"Host": BALANCER_HOST}, timeout=10)
    assert (post.status_code, post.headers["allow"]) == (405, "GET, HEAD")


@pytest.fixture
def unreachable_database(tmp_path: Path) -> str:
    """PostgreSQL: a port where nothing listens. SQLite: a file in a folder the test removes
    once the server runs (`leadpost serve` checks the database as it starts)."""
    if connection.vendor == "postgresql":
        return f"postgres://leadpost:leadpost@127.0.0.1:{_free_port()}/leadpost"
    (tmp_path / "gone").mkdir()
    return f"sqlite:///{tmp_path / 'gone' / 'leadpost.sqlite3'}"


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """A database URL where no migration has been applied."""
    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    # The test database seen through an empty schema: no django_migrations table there.
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA readyz_empty")
    db = connection.settings_dict
    try:
        yield (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}?currentSchema=readyz_empty"
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA readyz_empty CASCADE")


@pytest.fixture
def unwritable_files(tmp_path: Path) -> str:
    """A files folder nobody can make: its parent is a regular file. (A folder without write
    permission would not do: the tests may run as root, whom permissions do not stop.)"""
    (tmp_path / "a-file").write_text("not a folder")
    return str(tmp_path / "a-file" / "files")


@pytest.fixture
def served_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The settings of this module's servers: `DATABASE_URL` or `LEADPOST_FILES_DIR` taken from
    the fixture a test names (`indirect` parametrization), since they are made per test."""
    named = getattr(request, "param", None)
    if named == "empty_database":
        return {"DATABASE_URL": request.getfixturevalue(named)}
    if named == "unwritable_files":
        return {"LEADPOST_FILES_DIR": request.getfixturevalue(named)}
    if named == "unreachable_database":
        return {"DATABASE_URL": request.getfixturevalue(named)}
    return {}


@pytest.mark.parametrize("served_env", ["unreachable_database"], indirect=True)
def test_readyz_is_503_naming_the_database_when_it_cannot_be_reached(served, tmp_path):
    shutil.rmtree(tmp_path / "gone", ignore_errors=True)  # SQLite's database goes away
    # Posts fail meanwhile (the vendor is told to retry); the balancer must stop sending them.
    answer = _ready(served)
    assert answer.status_code == 503
    body = answer.json()
    assert body["ready"] is False
    assert body["failing"] == ["database"]
    assert body["checks"]["database"] == "failed (OperationalError)"
    assert body["checks"]["migrations"] == "not checked"
    assert body["checks"]["storage"] == "ok"
    assert "127.0.0.1" not in answer.text and "gone" not in answer.text  # no settings
    assert httpx.get(f"{served}/healthz", timeout=10).status_code == 200  # alive all the same


@pytest.mark.parametrize("served_env", ["empty_database"], indirect=True)
def test_readyz_is_503_while_migrations_are_unapplied(served):
    answer = _ready(served)
    assert answer.status_code == 503
    body = answer.json()
    assert body["failing"] == ["migrations"]
    assert body["checks"]["database"] == "ok"
    unapplied, _, word = body["checks"]["migrations"].partition(" ")
    assert word == "unapplied" and int(unapplied) > 10  # every migration of every app


@pytest.mark.parametrize("served_env", ["unwritable_files"], indirect=True)
def test_readyz_is_503_naming_the_storage_when_files_cannot_be_written(served):
    answer = _ready(served)
    assert answer.status_code == 503
    body = answer.json()
    assert body["failing"] == ["storage"]
    assert body["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "storage": body["checks"]["storage"],
    }
    assert body["checks"]["storage"].startswith("failed (")
    assert "a-file" not in answer.text  # the path stays in the log
