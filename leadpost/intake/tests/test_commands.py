"""The operators' command line (issue-url, create-account, ...), run as `leadpost ...` runs it."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from leadpost.accounts.models import Account, ApiToken, User
from leadpost.cli import command_name
from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.lib.tokens import hash_token


def run(*argv: str, capsys) -> dict:
    # In-process through call_command: execute_from_command_line would close the test's database
    # connection when done. The console script itself is run for real in test_console_script.
    call_command(command_name(argv[0]), *argv[1:])
    return json.loads(capsys.readouterr().out)


@pytest.mark.django_db
def test_operator_sets_up_an_agency_from_the_command_line(capsys, client):
    account = run(
        "create-account",
        "Hawkeye Insurance",
        "--time-zone",
        "America/Chicago",
        "--json",
        capsys=capsys,
    )["account"]
    user = run(
        "create-user",
        "--account",
        str(account["id"]),
        "--first-name",
        "Alice",
        "--last-name",
        "Agent",
        "--email",
        "alice@hawkeye.example",
        "--json",
        capsys=capsys,
    )["user"]
    issued = run(
        "issue-url",
        "--account",
        str(account["id"]),
        "--label",
        "Datalot",
        "--lead-source",
        "Datalot",
        "--json",
        capsys=capsys,
    )["leadPostUrl"]
    token = run("issue-api-token", "--account", str(account["id"]), "--json", capsys=capsys)[
        "apiToken"
    ]["token"]

    assert Account.objects.get(pk=account["id"]).time_zone == "America/Chicago"
    assert User.objects.get(pk=user["id"]).account_id == account["id"]
    assert issued["url"].endswith(f"/leadpost/{issued['token']}")
    row = LeadPostUrl.objects.get(pk=issued["id"])
    assert row.token_hash == hash_token(issued["token"]) and row.default_lead_source == "Datalot"
    assert ApiToken.objects.filter(token_hash=hash_token(token)).exists()

    # The URL and token printed work as printed.
    response = client.post(
        f"/leadpost/{issued['token']}",
        "firstName=A&lastName=B&servicingAgentFirstName=Alice&servicingAgentLastName=Agent",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.json()["servicingAgent"]["id"] == user["id"]
    record = client.get(
        f"/api/v1/records/{response.json()['recordId']}", HTTP_AUTHORIZATION=f"Bearer {token}"
    ).json()
    assert record["leadSource"] == "Datalot"


@pytest.mark.django_db
def test_bad_time_zone_and_unknown_account_are_clear_errors():
    with pytest.raises(CommandError, match="IANA"):
        call_command("create_account", "X", "--time-zone", "Mars/Olympus")
    with pytest.raises(CommandError, match="No account with id 999"):
        call_command("issue_url", "--account", "999", "--label", "V")


def test_console_script_speaks_dashes():
    result = subprocess.run(
        [sys.executable, "-m", "leadpost.cli", "issue-url", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--lead-source" in result.stdout


def test_manage_py_is_the_console_script_on_leadpost_settings():
    manage = Path(__file__).resolve().parents[3] / "manage.py"
    # No DJANGO_SETTINGS_MODULE: manage.py picks leadpost.settings itself (the test's secrets and
    # data folder are in the environment it passes on).
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}

    def manage_py(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(manage), *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
            cwd="/",
        )

    shown = manage_py(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.SETTINGS_MODULE)",
    )
    assert (shown.returncode, shown.stdout) == (0, "leadpost.settings\n"), shown.stderr
    for spelling in ("rotate-url", "rotate_url"):
        helped = manage_py(spelling, "--help")
        assert helped.returncode == 0, helped.stderr
        assert helped.stdout.startswith("usage: leadpost rotate_url ")
    refused = manage_py("disable-url", "abc")
    assert refused.returncode == 1
    assert (
        refused.stderr
        == "CommandError: URL_ID must be a number such as 12: the id of the Lead Post URL.\n"
    )


def test_purge_post_log_deletes_only_older_entries(vendor_url, capsys):
    url = vendor_url[0]
    now = timezone.now()
    for days in (100, 91, 89, 1):
        PostLog.objects.create(
            account=url.account,
            lead_post_url=url,
            status_code=200,
            result="created",
            received_at=now - dt.timedelta(days=days),
        )
    result = run("purge-post-log", "--json", capsys=capsys)
    assert result["deleted"] == 2
    assert PostLog.objects.count() == 2


def test_purge_post_log_days_0_keeps_nothing_and_a_negative_count_is_refused(vendor_url, capsys):
    url = vendor_url[0]
    for hours in (30, 2):
        PostLog.objects.create(
            account=url.account,
            lead_post_url=url,
            status_code=200,
            result="created",
            received_at=timezone.now() - dt.timedelta(hours=hours),
        )
    with pytest.raises(CommandError, match="--days"):
        call_command("purge_post_log", "--days", "-1")
    assert PostLog.objects.count() == 2
    assert run("purge-post-log", "--days", "0", "--json", capsys=capsys)["deleted"] == 2
    assert PostLog.objects.count() == 0
