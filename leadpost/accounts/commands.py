"""What the operators' commands share about accounts."""

from __future__ import annotations

from django.core.management.base import CommandError

from leadpost.accounts.models import Account


def get_account(account_id: int) -> Account:
    try:
        return Account.objects.get(pk=account_id)
    except Account.DoesNotExist:
        raise CommandError(
            f"No account with id {account_id} (see: leadpost list-accounts)."
        ) from None
