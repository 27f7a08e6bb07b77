"""What the operators' commands share about accounts and their API tokens."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from leadpost.accounts.models import Account, ApiToken
from leadpost.lib.commands import iso, parse_id, printable, when
from leadpost.lib.tokens import PREFIX_LENGTH


def get_account(account_id: object, option: str = "--account") -> Account:
    number = parse_id(account_id, option, "account")
    try:
        return Account.objects.get(pk=number)
    except Account.DoesNotExist:
        raise CommandError(f"No account with id {number} (see: leadpost list-accounts).") from None


def check_account(row_account: Account, account_id: object) -> None:
    """Refuse a row of another account than the one an operator named with --account (a guard
    for scripts that act on one agency)."""
    if account_id is None:
        return
    account = get_account(account_id)
    if account.pk != row_account.pk:
        raise CommandError(
            f"That belongs to account {row_account.pk} ({printable(row_account.name)}), "
            f"not to account {account.pk}; nothing changed."
        )


def get_api_token(token_id: object, account_id: object = None) -> ApiToken:
    number = parse_id(token_id, "TOKEN_ID", "API token")
    try:
        row = ApiToken.objects.select_related("account").get(pk=number)
    except ApiToken.DoesNotExist:
        raise CommandError(
            f"No API token with id {number} (see: leadpost list-api-tokens --account ID)."
        ) from None
    check_account(row.account, account_id)
    return row


def api_token_json(row: ApiToken) -> dict[str, Any]:
    """What may be shown of an API token after it was issued: never the token or its hash."""
    return {
        "id": row.pk,
        "account": row.account_id,
        "label": row.label,
        "prefix": row.prefix[:PREFIX_LENGTH],
        "createdAt": iso(row.created_at),
        "lastUsedAt": iso(row.last_used_at),
        "revokedAt": iso(row.revoked_at),
    }


def api_token_line(row: ApiToken) -> str:
    label = printable(row.label) or "(no label)"
    state = f"revoked {when(row.revoked_at)}" if row.revoked_at else "active"
    return (
        f"{row.pk}\t{label}\t{row.prefix[:PREFIX_LENGTH]}…\t{state}\t"
        f"created {when(row.created_at)}\tlast used {when(row.last_used_at)}"
    )
