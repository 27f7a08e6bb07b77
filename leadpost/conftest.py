"""The cast every test can use: an agency with an admin and two agents, and a second agency.

Named like Healthchecks' alice/bob/charlie so a test reads as a story.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from django.test import Client

from leadpost.accounts.models import Account, ApiToken, Permission, SecurityGroup, User
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.choices import RecordType


@pytest.fixture
def agency(db: None) -> Account:
    return Account.objects.create(name="Hawkeye Insurance", time_zone="America/Chicago")


@pytest.fixture
def alice(agency: Account) -> User:
    return User.objects.create(
        account=agency, username="alice", first_name="Alice", last_name="Agent"
    )


@pytest.fixture
def bob(agency: Account) -> User:
    return User.objects.create(account=agency, username="bob", first_name="Bob", last_name="Broker")


@pytest.fixture
def premium(agency: Account) -> Account:
    """The agency in Sales Record mode with premium Sales Workflows and routing."""
    agency.record_mode = RecordType.SALES_RECORD
    agency.premium_workflows = True
    agency.save()
    return agency


@pytest.fixture
def other_agency(db: None) -> Account:
    return Account.objects.create(name="Cornbelt Mutual", time_zone="America/New_York")


@pytest.fixture
def vendor_url(agency: Account) -> tuple[LeadPostUrl, str]:
    """A Lead Post URL of the agency for the vendor Datalot, and its secret token."""
    return LeadPostUrl.issue(agency, "Datalot")


@pytest.fixture
def api_token(agency: Account) -> str:
    return ApiToken.issue(agency, "CRM")[1]


PostFn = Callable[..., Any]


@pytest.fixture
def post(client: Client, vendor_url: tuple[LeadPostUrl, str]) -> PostFn:
    """Post form fields to the agency's Datalot URL, as a vendor would."""
    token = vendor_url[1]

    def _post(
        data: dict[str, str] | list[tuple[str, str]] | None = None,
        *,
        suffix: str = "",
        **extra: Any,
    ) -> Any:
        body = urlencode(data or {})
        return client.post(
            f"/leadpost/{token}{suffix}",
            data=body,
            content_type="application/x-www-form-urlencoded",
            **extra,
        )

    return _post


def database_url() -> str:
    """The test database as a DATABASE_URL, for servers and workers the tests start."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture
def served_env() -> dict[str, str]:
    """Settings (environment variables) the server of `served` gets beside the test's own;
    a test changes them with `@pytest.mark.parametrize("served_env", [{...}])`."""
    return {}


@pytest.fixture
def served(transactional_db: None, tmp_path: Any, served_env: dict[str, str]) -> Iterator[str]:
    """The production server (`leadpost serve`) on a free port, on the test database.

    Its log (stderr: the access log and everything else) goes to `served.log` beside the test's
    temporary files, readable by the test as `served_log`; a pipe would fill and stall it.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leadpost.settings_test",
        "DATABASE_URL": database_url(),
        **served_env,
    }
    log_path = tmp_path / "served.log"
    log = open(log_path, "ab")  # noqa: SIM115 - closed below, after the server stops
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "leadpost.cli",
            "serve",
            "--no-worker",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,  # its own process group: the server and its workers stop together
    )
    base = f"http://127.0.0.1:{port}"
    pause = threading.Event()
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log_path.read_text(errors="replace")
            try:
                httpx.get(f"{base}/leadpost/not-a-token", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "leadpost serve did not answer within 60 s"
                pause.wait(0.2)  # the server is booting: ask again shortly
        yield base
    finally:
        # A worker still starting when the test ends is waited for by a graceful stop: the
        # test is over, so after a short grace the whole group goes.
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()


@pytest.fixture
def served_log(served: str, tmp_path: Any) -> Callable[[], str]:
    """What the server of `served` has written to its log so far."""
    return lambda: (tmp_path / "served.log").read_text(errors="replace")


# SecurityGroup's flag for each permission (SPEC §10).
GROUP_FLAGS = {
    Permission.SALES_ENABLEMENT: "sales_enablement_visible",
    Permission.MANAGE_DATA: "manage_data",
    Permission.MANAGE_URLS: "manage_urls",
    Permission.VIEW_POST_LOG: "view_post_log",
    Permission.MANAGE_USERS: "manage_users",
}


@pytest.fixture
def staff_member(db: None) -> Callable[..., User]:
    """Make a user of `account` whose one security group grants exactly `permissions`."""

    def _make(
        account: Account,
        username: str,
        *permissions: Permission,
        password: str | None = None,
        group_name: str | None = None,
        **fields: Any,
    ) -> User:
        group = SecurityGroup.objects.create(
            account=account,
            name=group_name or f"{username}'s group",
            **{GROUP_FLAGS[p]: True for p in permissions},
        )
        user = User.objects.create_user(username, password=password, account=account, **fields)
        user.security_groups.add(group)
        return user

    return _make
