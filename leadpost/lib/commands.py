"""Shared bits of the operators' commands: `--json` output and account lookup."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leadpost.accounts.models import Account


class OperatorCommand(BaseCommand):
    """A command that prints either readable lines or, with --json, one JSON object."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def report(self, options: dict[str, Any], data: dict[str, Any], lines: list[str]) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(data))
        else:
            for line in lines:
                self.stdout.write(line)


def get_account(account_id: int) -> Account:
    try:
        return Account.objects.get(pk=account_id)
    except Account.DoesNotExist:
        raise CommandError(
            f"No account with id {account_id} (see: leadpost list-accounts)."
        ) from None
