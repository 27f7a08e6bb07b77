"""The account's TrustedForm API key on its settings page (SPEC §14): written, kept encrypted,
never shown back; cleared on request; only the account's own user managers reach it."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

from leadpost.accounts.models import Account, Permission
from leadpost.lib.encryption import decrypt_secret

KEY = "tf-key-9Rt4Wq2Lm7Xz3Kp8"


def page(agency: Account) -> str:
    return f"/staff/accounts/account/{agency.pk}/change/"


def form(agency: Account, **changes: str) -> dict[str, str]:
    # The page's other fields as it shows them (the duplicate window: SPEC §14, wt-dups2).
    fields = {"time_zone": agency.time_zone, "fallback_agent": "", "duplicate_window_days": "30"}
    return {**fields, **changes}


@pytest.fixture
def manager(client: Client, agency: Account, staff_member: Any) -> Client:
    client.force_login(staff_member(agency, "mia", Permission.MANAGE_USERS))
    return client


def test_the_key_is_saved_encrypted_and_never_shown_back(
    manager: Client, agency: Account, caplog: pytest.LogCaptureFixture
) -> None:
    html = manager.get(page(agency)).content.decode()
    assert "TrustedForm API key" in html and "not set" in html
    with caplog.at_level(logging.DEBUG):
        reply = manager.post(page(agency), form(agency, trustedform_key=f"  {KEY} "))
    assert reply.status_code == 302
    agency.refresh_from_db()
    assert agency.trustedform_api_key and KEY not in agency.trustedform_api_key
    assert decrypt_secret(agency.trustedform_api_key) == KEY
    html = manager.get(page(agency)).content.decode()
    assert KEY not in html and ">set<" in html.replace(" ", "").replace("\n", "")
    assert KEY not in caplog.text
    # Saved again without a key, the key is kept.
    manager.post(page(agency), form(agency))
    agency.refresh_from_db()
    assert decrypt_secret(agency.trustedform_api_key) == KEY


def test_the_key_is_cleared_on_request(manager: Client, agency: Account) -> None:
    manager.post(page(agency), form(agency, trustedform_key=KEY))
    manager.post(page(agency), form(agency, clear_trustedform_key="on"))
    agency.refresh_from_db()
    assert agency.trustedform_api_key == ""
    assert "not set" in manager.get(page(agency)).content.decode()


@pytest.mark.parametrize("bad", ["has space", "tab\there", "nul\x00", "é" * 5, "k" * 201])
def test_a_key_that_cannot_go_in_a_header_is_refused(
    manager: Client, agency: Account, bad: str
) -> None:
    reply = manager.post(page(agency), form(agency, trustedform_key=bad))
    assert reply.status_code == 200  # the form again, with its error
    agency.refresh_from_db()
    assert agency.trustedform_api_key == ""


def test_only_the_accounts_user_managers_reach_the_key(
    client: Client, agency: Account, other_agency: Account, staff_member: Any
) -> None:
    client.force_login(staff_member(agency, "dee", Permission.MANAGE_DATA))
    assert client.post(page(agency), form(agency, trustedform_key=KEY)).status_code in (302, 403)
    client.force_login(staff_member(other_agency, "oz", Permission.MANAGE_USERS))
    assert client.post(page(agency), form(agency, trustedform_key=KEY)).status_code in (302, 404)
    agency.refresh_from_db()
    assert agency.trustedform_api_key == ""


def test_another_trustedform_address_is_refused_in_production() -> None:
    from leadpost.intake.tests.test_serve_settings import _leadpost

    done = _leadpost("check", LEADPOST_TRUSTEDFORM_BASE="http://127.0.0.1:9/")
    assert done.returncode != 0
    assert "LEADPOST_TRUSTEDFORM_BASE sends TrustedForm API keys" in done.stderr
    assert "only accepted with LEADPOST_DEV=1" in done.stderr
    assert "Traceback" not in done.stderr
