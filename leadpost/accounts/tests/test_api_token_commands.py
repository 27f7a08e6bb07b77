"""Operators' command line for read-API tokens: list-api-tokens and revoke-api-token."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from leadpost.accounts.models import ApiToken, User


def run(capsys, *argv: str) -> str:
    call_command(argv[0].replace("-", "_"), *argv[1:])
    return capsys.readouterr().out


def api(client, token: str) -> int:
    return client.get("/api/v1/records", HTTP_AUTHORIZATION=f"Bearer {token}").status_code


@pytest.fixture
def tokens(agency, other_agency):
    crm, crm_token = ApiToken.issue(agency, "CRM")
    dialer, dialer_token = ApiToken.issue(agency, "")
    theirs, theirs_token = ApiToken.issue(other_agency, "Their CRM")
    return {
        "crm": (crm, crm_token),
        "dialer": (dialer, dialer_token),
        "theirs": (theirs, theirs_token),
    }


def test_list_shows_an_accounts_tokens_without_the_secrets(capsys, client, agency, tokens):
    (crm, crm_token), (dialer, dialer_token) = tokens["crm"], tokens["dialer"]
    assert api(client, crm_token) == 200  # marks it used

    listed = json.loads(run(capsys, "list-api-tokens", "--account", str(agency.pk), "--json"))
    crm.refresh_from_db()
    assert listed == {
        "account": {"id": agency.pk, "name": "Hawkeye Insurance"},
        "apiTokens": [
            {
                "id": crm.pk,
                "account": agency.pk,
                "label": "CRM",
                "prefix": crm_token[:6],
                "createdAt": crm.created_at.isoformat(),
                "lastUsedAt": crm.last_used_at.isoformat(),
                "revokedAt": None,
            },
            {
                "id": dialer.pk,
                "account": agency.pk,
                "label": "",
                "prefix": dialer_token[:6],
                "createdAt": dialer.created_at.isoformat(),
                "lastUsedAt": None,
                "revokedAt": None,
            },
        ],
    }
    lines = run(capsys, "list-api-tokens", "--account", str(agency.pk)).splitlines()
    assert lines[0] == f"API tokens of account {agency.pk} (Hawkeye Insurance):"
    assert lines[1].startswith(f"{crm.pk}\tCRM\t{crm_token[:6]}…\tactive\tcreated 20")
    assert lines[1].endswith(" UTC") and "last used never" not in lines[1]
    assert lines[2].startswith(f"{dialer.pk}\t(no label)\t{dialer_token[:6]}…\tactive\t")
    assert lines[2].endswith("\tlast used never") and len(lines) == 3


def test_revoked_token_gets_401_on_its_next_request(capsys, client, agency, tokens):
    (crm, crm_token), (_, dialer_token) = tokens["crm"], tokens["dialer"]
    assert api(client, crm_token) == 200

    assert run(capsys, "revoke-api-token", str(crm.pk)) == (
        f"Revoked API token {crm.pk} (CRM, {crm_token[:6]}…) of account {agency.pk} "
        "(Hawkeye Insurance): its requests now get 401.\n"
    )
    assert api(client, crm_token) == 401
    assert api(client, dialer_token) == 200  # only that one
    crm.refresh_from_db()
    revoked_at = crm.revoked_at
    assert revoked_at is not None

    again = json.loads(run(capsys, "revoke-api-token", str(crm.pk), "--json"))
    assert again["changed"] is False and again["apiToken"]["revokedAt"] == revoked_at.isoformat()
    assert "was already revoked on 20" in run(capsys, "revoke-api-token", str(crm.pk))
    crm.refresh_from_db()
    assert crm.revoked_at == revoked_at  # not moved
    assert api(client, crm_token) == 401

    listed = run(capsys, "list-api-tokens", "--account", str(agency.pk)).splitlines()
    assert f"\t{crm_token[:6]}…\trevoked 20" in listed[1]


def test_no_output_shows_a_token_or_its_hash(capsys, agency, tokens):
    crm = tokens["crm"][0]
    outputs = [
        run(capsys, *argv, *extra)
        for argv in (
            ("list-api-tokens", "--account", str(agency.pk)),
            ("revoke-api-token", str(crm.pk)),
            ("revoke-api-token", str(crm.pk)),
        )
        for extra in ((), ("--json",))
    ]
    for row, token in tokens.values():
        for out in outputs:
            assert token[:7] not in out and row.token_hash[:16] not in out


@pytest.mark.parametrize(
    "given", ["abc", "-1", "0", "1; DROP TABLE accounts_apitoken", "1\x00", "١", "1_0", str(2**70)]
)
def test_garbage_ids_are_refused_in_one_line(given, client, tokens):
    with pytest.raises(CommandError) as refused:
        call_command("revoke_api_token", given)
    message = str(refused.value)
    assert "\n" not in message and "\x00" not in message
    assert message.startswith(("TOKEN_ID must be a number such as 12", "No API token with"))
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()
    assert all(api(client, token) == 200 for _, token in tokens.values())


def test_an_id_of_no_token_and_a_token_of_another_account_are_refused(
    client, agency, other_agency, tokens
):
    theirs, theirs_token = tokens["theirs"]
    with pytest.raises(CommandError, match=r"^No API token with id 9999 \(see: leadpost list-"):
        call_command("revoke_api_token", "9999")
    with pytest.raises(CommandError) as refused:
        call_command("revoke_api_token", str(theirs.pk), "--account", str(agency.pk))
    assert str(refused.value) == (
        f"That belongs to account {other_agency.pk} (Cornbelt Mutual), not to account "
        f"{agency.pk}; nothing changed."
    )
    assert api(client, theirs_token) == 200
    with pytest.raises(CommandError, match="No account with id 999"):
        call_command("list_api_tokens", "--account", "999")


def test_the_admin_revokes_the_same_way(client, tokens):

    operator = User.objects.create_superuser("operator", "ops@example.com", "pw-operator-1")
    admin = type(client)()
    admin.force_login(operator)
    crm, crm_token = tokens["crm"]
    admin.post(
        "/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [crm.pk]}, follow=True
    )
    assert api(client, crm_token) == 401
    assert api(client, tokens["dialer"][1]) == 200
