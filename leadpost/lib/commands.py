"""Shared bits of the operators' commands: `--json` output."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


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
