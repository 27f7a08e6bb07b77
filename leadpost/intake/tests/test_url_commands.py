"""Operators' command line for Lead Post URLs: list-urls, disable-url, enable-url, rotate-url.

Each test runs the command as an operator does and checks what they read (lines, JSON, the error)
and what a vendor then gets from the endpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlencode

import httpx
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadpost.accounts.models import Account
from leadpost.cli import command_name
from leadpost.conftest import database_url
from leadpost.intake.models import LeadPostUrl, PostLog, PostResult

FORM = "application/x-www-form-urlencoded"
UNKNOWN_URL = {
    "result": "error",
    "errors": [{"field": None, "code": "unknown_url", "message": "No Lead Post URL here."}],
}


def run(capsys, *argv: str) -> str:
    """What an operator reads from `leadpost ARGV...` (in process: see test_commands.run)."""
    call_command(command_name(argv[0]), *argv[1:])
    return capsys.readouterr().out


def run_json(capsys, *argv: str) -> dict:
    return json.loads(run(capsys, *argv, "--json"))


def post(client, token: str, suffix: str = "", **fields: str):
    body = urlencode(fields or {"firstName": "Jane", "lastName": "Roe"})
    return client.post(f"/leadpost/{token}{suffix}", body, content_type=FORM)


def test_list_urls_shows_each_url_with_its_counts_in_one_query(
    capsys, client, agency, other_agency, vendor_url
):
    url, token = vendor_url
    second, second_token = LeadPostUrl.issue(agency, "NextGen Leads")
    theirs, _ = LeadPostUrl.issue(other_agency, "Otter Leads")
    post(client, token, firstName="A", lastName="B", externalID="x1")
    post(client, token, firstName="A", lastName="B", externalID="x1")  # duplicate
    post(client, token, firstName="A")  # rejected
    post(client, token, "/test")  # dry run
    client.get(f"/leadpost/{token}")  # 405, logged
    post(client, second_token)
    call_command("disable_url", str(second.pk))
    capsys.readouterr()

    with CaptureQueriesContext(connection) as queries:
        listed = run_json(capsys, "list-urls", "--account", str(agency.pk))
    # The account, then the URLs with their counts: not one query per URL.
    assert len(queries.captured_queries) == 2

    assert listed["account"] == {"id": agency.pk, "name": "Hawkeye Insurance"}
    assert "LEADPOST_POST_LOG_RETENTION_DAYS" in listed["countsCover"]
    assert "90 days" in listed["countsCover"]
    rows = {row["id"]: row for row in listed["leadPostUrls"]}
    assert set(rows) == {url.pk, second.pk}  # never another account's URL
    first = rows[url.pk]
    assert (first["label"], first["prefix"], first["enabled"]) == ("Datalot", token[:6], True)
    assert first["disabledAt"] is None and first["createdAt"] == url.created_at.isoformat()
    last = PostLog.objects.filter(lead_post_url=url).latest("received_at").received_at
    assert first["lastPostAt"] == last.isoformat()
    assert first["posts"] == {
        **{str(result): 0 for result in PostResult},
        "created": 1,
        "duplicate": 1,
        "rejected": 1,
        "test": 1,
        "method_not_allowed": 1,
    }
    assert rows[second.pk]["enabled"] is False and rows[second.pk]["disabledAt"] is not None
    assert rows[second.pk]["posts"]["created"] == 1
    assert theirs.pk not in rows

    lines = run(capsys, "list-urls", "--account", str(agency.pk)).splitlines()
    assert lines[0].startswith(f"Lead Post URLs of account {agency.pk} (Hawkeye Insurance).")
    assert "the last 90 days (LEADPOST_POST_LOG_RETENTION_DAYS)" in lines[0]
    assert lines[1].startswith(f"{url.pk}\tDatalot\t{token[:6]}…\tenabled\tcreated ")
    assert lines[2] == "\tposts: 1 created, 1 duplicate, 1 rejected, 1 test, 1 method_not_allowed"
    assert lines[3].startswith(f"{second.pk}\tNextGen Leads\t{second_token[:6]}…\tdisabled 20")
    assert lines[4] == "\tposts: 1 created"


def test_list_urls_of_an_account_without_urls_and_of_no_account(capsys, agency):
    assert run(capsys, "list-urls", "--account", str(agency.pk)) == (
        f"Account {agency.pk} (Hawkeye Insurance) has no Lead Post URL yet "
        f"(leadpost issue-url --account {agency.pk} --label VENDOR).\n"
    )
    assert run_json(capsys, "list-urls", "--account", str(agency.pk))["leadPostUrls"] == []
    with pytest.raises(CommandError, match=r"^No account with id 999 \(see: leadpost list-acc"):
        call_command("list_urls", "--account", "999")


def test_a_label_cannot_move_or_hide_what_the_operator_reads(capsys, agency):
    LeadPostUrl.issue(agency, "Evil\nvendor\t\x1b[2J\u202etxt.exe")
    lines = run(capsys, "list-urls", "--account", str(agency.pk)).splitlines()
    assert len(lines) == 3  # the heading and the URL's two lines: the newline did not add one
    assert "\x1b" not in lines[1] and "\u202e" not in lines[1]
    assert "\tEvil\ufffdvendor\ufffd\ufffd[2J\ufffdtxt.exe\t" in lines[1]
    # The JSON keeps the label as it is: a script reads it escaped.
    label = run_json(capsys, "list-urls", "--account", str(agency.pk))["leadPostUrls"][0]["label"]
    assert label == "Evil\nvendor\t\x1b[2J\u202etxt.exe"


def test_disable_then_enable_applies_from_the_very_next_post(capsys, client, vendor_url):
    url, token = vendor_url
    unknown = post(client, "no-such-token")
    # This process now keeps the account's configuration (intake/config.py): the command's change
    # must be seen all the same.
    assert post(client, token).status_code == 200
    logged = PostLog.objects.count()

    assert run(capsys, "disable-url", str(url.pk)) == (
        f"Disabled Lead Post URL {url.pk} (Hawkeye Insurance / Datalot, {token[:6]}…): its "
        "posts now get 404.\n"
    )
    for suffix in ("", "/", "/test"):
        refused = post(client, token, suffix)
        # SPEC §3: the very answer of an unknown URL, and nothing logged against the account.
        assert refused.status_code == 404 and refused.json() == UNKNOWN_URL == unknown.json()
        assert "X-Lead-Post-Id" not in refused
    assert PostLog.objects.count() == logged
    url.refresh_from_db()
    assert not url.enabled and url.disabled_at is not None

    again = run_json(capsys, "disable-url", str(url.pk))
    assert again["changed"] is False and again["leadPostUrl"]["enabled"] is False
    assert again["leadPostUrl"]["disabledAt"] == url.disabled_at.isoformat()  # not moved
    assert "was already disabled (since 20" in run(capsys, "disable-url", str(url.pk))
    assert post(client, token).status_code == 404

    enabled = run_json(capsys, "enable-url", str(url.pk))
    assert enabled["changed"] is True
    assert enabled["leadPostUrl"] == {
        "id": url.pk,
        "account": url.account_id,
        "label": "Datalot",
        "prefix": token[:6],
        "enabled": True,
        "createdAt": url.created_at.isoformat(),
        "disabledAt": None,
    }
    assert post(client, token).json()["result"] == "created"
    assert run(capsys, "enable-url", str(url.pk)) == (
        f"Lead Post URL {url.pk} (Hawkeye Insurance / Datalot, {token[:6]}…) was already "
        "enabled; nothing changed.\n"
    )


def test_rotate_gives_the_same_url_a_new_token_and_the_old_one_stops(capsys, client, vendor_url):
    url, old = vendor_url
    url.default_lead_source, url.rate_limit_per_minute = "Datalot", 500
    url.save()
    assert post(client, old).status_code == 200  # kept by this process

    rotated = run_json(capsys, "rotate-url", str(url.pk))["leadPostUrl"]
    new = rotated["token"]
    assert new != old and len(new) >= 43
    assert rotated["url"] == LeadPostUrl.full_url(new) and rotated["url"].endswith(
        f"/leadpost/{new}"
    )
    assert rotated["testUrl"] == f"{rotated['url']}/test"
    assert (rotated["id"], rotated["label"], rotated["prefix"]) == (url.pk, "Datalot", new[:6])

    assert post(client, old).json() == UNKNOWN_URL
    created = post(client, new)
    assert created.json()["result"] == "created"
    assert LeadPostUrl.objects.count() == 1  # the same row: label, settings and history kept
    row = LeadPostUrl.objects.get()
    assert (row.pk, row.label, row.default_lead_source, row.rate_limit_per_minute) == (
        url.pk,
        "Datalot",
        "Datalot",
        500,
    )
    assert PostLog.objects.filter(lead_post_url=row, result="created").count() == 2
    listed = run_json(capsys, "list-urls", "--account", str(url.account_id))["leadPostUrls"]
    assert [(u["id"], u["prefix"], u["posts"]["created"]) for u in listed] == [(url.pk, new[:6], 2)]

    lines = run(capsys, "rotate-url", str(url.pk)).splitlines()
    newest = LeadPostUrl.objects.get().prefix
    assert lines[0] == (
        f"New token for Lead Post URL {url.pk} (Hawkeye Insurance / Datalot, {newest}…); the "
        "old URL no longer works. Shown once, keep it secret:"
    )
    token = lines[1].rsplit("/", 1)[1]
    assert lines[2] == f"Dry run (stores nothing): {lines[1]}/test" and len(lines) == 3
    assert post(client, new).status_code == 404
    assert post(client, token).json()["result"] == "created"


def test_rotating_a_disabled_url_keeps_it_disabled_and_says_so(capsys, client, vendor_url):
    url, _ = vendor_url
    run(capsys, "disable-url", str(url.pk))
    lines = run(capsys, "rotate-url", str(url.pk)).splitlines()
    assert lines[-1] == (
        f"The URL is disabled: its posts get 404 until leadpost enable-url {url.pk}."
    )
    token = lines[1].rsplit("/", 1)[1]
    assert post(client, token).status_code == 404
    call_command("enable_url", str(url.pk))
    assert post(client, token).status_code == 200


def test_no_output_but_the_rotation_shows_a_token_or_its_hash(capsys, agency, vendor_url):
    url, token = vendor_url
    other, other_token = LeadPostUrl.issue(agency, "NextGen")
    hashes = [url.token_hash, other.token_hash]
    outputs = []
    for argv in (
        ("list-urls", "--account", str(agency.pk)),
        ("disable-url", str(url.pk)),
        ("disable-url", str(url.pk)),
        ("enable-url", str(url.pk)),
        ("enable-url", str(url.pk)),
    ):
        outputs += [run(capsys, *argv), run(capsys, *argv, "--json")]
    rotated = run_json(capsys, "rotate-url", str(other.pk))["leadPostUrl"]["token"]
    outputs += [run(capsys, "list-urls", "--account", str(agency.pk), "--json")]
    secrets = [token, other_token, rotated]
    hashes += [LeadPostUrl.objects.get(pk=other.pk).token_hash]
    assert len(set(hashes)) == 3
    for out in outputs:
        for secret in secrets:
            assert secret[:7] not in out  # at most the first 6 characters (SPEC §9)
        for digest in hashes:
            assert digest not in out and digest[:16] not in out


@pytest.mark.parametrize(
    "given",
    [
        "abc",
        "-1",
        "0",
        "1; DROP TABLE intake_leadposturl",
        "1\x00",
        "\x001",
        "١",  # ARABIC-INDIC DIGIT ONE: int() reads it as 1
        "1_0",  # int() reads it as 10
        " 1",
        "+1",
        "1.0",
        "",
        str(2**63),  # past the largest id
        str(2**70),
        "9" * 5000,  # past int()'s limit on digits
    ],
)
@pytest.mark.parametrize("command", ["disable-url", "enable-url", "rotate-url"])
def test_garbage_ids_are_refused_in_one_line_and_change_nothing(command, given, client, vendor_url):
    url, token = vendor_url
    with pytest.raises(CommandError) as refused:
        call_command(command_name(command), given)
    message = str(refused.value)
    assert "\n" not in message and "\x00" not in message and len(message) < 120
    assert message.startswith(("URL_ID must be a number", "No Lead Post URL with"))
    row = LeadPostUrl.objects.get()
    assert (row.enabled, row.token_hash) == (url.enabled, url.token_hash)
    assert post(client, token).status_code == 200


def test_a_pasted_token_is_refused_without_repeating_it(vendor_url):
    _url, issued = vendor_url
    token = "T" + issued[1:]  # a random token may start with "-", which argparse takes as an option
    with pytest.raises(CommandError) as refused:
        call_command("disable_url", token)
    assert token[:7] not in str(refused.value)
    assert str(refused.value) == "URL_ID must be a number such as 12: the id of the Lead Post URL."
    assert LeadPostUrl.objects.get().enabled


def test_an_id_of_no_url_and_of_another_model_are_refused(agency, vendor_url, api_token):
    url, _ = vendor_url
    missing = url.pk + 1000  # an account's and an API token's ids exist, not this URL's
    with pytest.raises(CommandError, match=rf"^No Lead Post URL with id {missing} \(see: leadp"):
        call_command("disable_url", str(missing))
    with pytest.raises(CommandError, match=r"^No Lead Post URL with id 9223372036854775807 "):
        call_command("rotate_url", str(2**63 - 1))


@pytest.mark.parametrize("command", ["disable-url", "enable-url", "rotate-url"])
def test_a_url_of_another_account_named_with_account_is_refused(
    command, capsys, client, agency, other_agency, vendor_url
):
    url, _token = vendor_url
    if command == "enable-url":
        call_command("disable_url", str(url.pk))
    before = LeadPostUrl.objects.values_list("enabled", "token_hash").get()
    with pytest.raises(CommandError) as refused:
        call_command(command_name(command), str(url.pk), "--account", str(other_agency.pk))
    assert str(refused.value) == (
        f"That belongs to account {agency.pk} (Hawkeye Insurance), not to account "
        f"{other_agency.pk}; nothing changed."
    )
    assert LeadPostUrl.objects.values_list("enabled", "token_hash").get() == before
    with pytest.raises(CommandError, match="No account with id 999"):
        call_command(command_name(command), str(url.pk), "--account", "999")
    with pytest.raises(CommandError, match=r"^--account must be a number"):
        call_command(command_name(command), str(url.pk), "--account", "١")
    assert LeadPostUrl.objects.values_list("enabled", "token_hash").get() == before
    # With its own account it goes ahead.
    capsys.readouterr()
    call_command(command_name(command), str(url.pk), "--account", str(agency.pk))
    assert capsys.readouterr().out


@pytest.mark.parametrize("command", ["list-urls", "issue-url"])
def test_account_option_refuses_garbage(command, db):
    extra = ["--label", "V"] if command == "issue-url" else []
    for given in ("١", str(2**70), "x", "-3"):
        with pytest.raises(CommandError, match=r"^(--account must be a number|No account with)"):
            call_command(command_name(command), "--account", given, *extra)
    assert not LeadPostUrl.objects.exists() and not Account.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_from_the_shell_an_error_is_one_line_and_a_non_zero_exit(vendor_url):
    url, _ = vendor_url
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leadpost.settings_test",
        "DATABASE_URL": database_url(),
    }
    for argv, expected in (
        (["disable-url", "١"], "URL_ID must be a number such as 12"),
        (["rotate-url", str(2**70)], "No Lead Post URL with that id"),
        (["enable-url", str(url.pk + 5)], f"No Lead Post URL with id {url.pk + 5}"),
        (["list-urls", "--account", "1; DROP"], "--account must be a number such as 12"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "leadpost.cli", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
        )
        assert done.returncode == 1, done.stderr
        assert done.stdout == ""
        assert done.stderr.startswith(f"CommandError: {expected}") and done.stderr.count("\n") == 1
    assert LeadPostUrl.objects.get().enabled


def test_served_by_several_processes_a_change_applies_to_the_next_post(served, capsys):
    """`leadpost serve` with two worker processes, each keeping accounts of its own: the
    command's change reaches whichever process takes the next post."""
    account = Account.objects.create(name="Hawkeye Insurance")
    issued = run_json(capsys, "issue-url", "--account", str(account.pk), "--label", "Datalot")
    url_id, token = issued["leadPostUrl"]["id"], issued["leadPostUrl"]["token"]
    body = {"firstName": "Jane", "lastName": "Roe"}

    def statuses(token: str) -> list[int]:
        with httpx.Client(base_url=served, timeout=30) as http:
            # Several posts, each on a new connection: the two processes share them out (which
            # takes which is the kernel's choice), and each must answer the same.
            return [
                http.post(
                    f"/leadpost/{token}", data=body, headers={"Connection": "close"}
                ).status_code
                for _ in range(6)
            ]

    assert statuses(token) == [200] * 6
    run(capsys, "disable-url", str(url_id))
    assert statuses(token) == [404] * 6
    run(capsys, "enable-url", str(url_id))
    assert statuses(token) == [200] * 6
    new = run_json(capsys, "rotate-url", str(url_id))["leadPostUrl"]["token"]
    assert statuses(token) == [404] * 6
    assert statuses(new) == [200] * 6
    assert PostLog.objects.filter(lead_post_url_id=url_id, result="created").count() == 18


def test_a_token_pasted_where_argparse_does_not_expect_it_is_not_repeated(vendor_url):
    url, issued = vendor_url
    # The issued token, but never starting with "-" (a random one may): argparse would read that
    # as an option of its own and say nothing of it. The "-" case is the last one below.
    token = "T" + issued[1:]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leadpost.settings_test",
        "DATABASE_URL": database_url(),
    }
    for argv in (
        ["disable-url", str(url.pk), token],
        ["disable-url", str(url.pk), f"--json={token}"],
        ["purge-post-log", "--days", token],
        ["list-urls", "--account", "1", f"-{token}"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "leadpost.cli", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
        )
        assert done.returncode != 0, argv
        assert "…" in done.stderr, done.stderr  # what it refused, cut as the logs cut it
        assert token[6:16] not in done.stderr and token[6:16] not in done.stdout
    assert LeadPostUrl.objects.get().enabled
