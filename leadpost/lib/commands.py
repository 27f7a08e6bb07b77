"""Shared bits of the operators' commands: `--json` output, ids given on the command line."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leadpost.lib.logredact import redact_text

# Every table's id is a BigAutoField (settings.DEFAULT_AUTO_FIELD): at most 2**63 - 1, 19 digits.
MAX_ID = 2**63 - 1
_ID = re.compile(r"[0-9]{1,19}")  # ASCII digits only: int() also reads "١" (Arabic-Indic one)


def parse_id(value: object, option: str, noun: str) -> int:
    """The id an operator typed for `option` (e.g. "URL_ID", "--account"), or a one-line error.

    Taken as text, not with argparse's `type=int`: int() accepts "+1", " 1 ", "1_0" and other
    scripts' digits, and a number past the database's integer is a traceback, not an answer. A
    value that is not a number is never repeated: it may be a token pasted in the wrong place.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _ID.fullmatch(value):
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
        raise CommandError(f"No {noun} with that id: {option} has more than 19 digits.")
    else:
        raise CommandError(f"{option} must be a number such as 12: the id of the {noun}.")
    if not 1 <= number <= MAX_ID:
        raise CommandError(f"No {noun} with id {number}.")
    return number


def printable(text: str) -> str:
    """Text of a row (a label) as one line of a terminal: no newline, tab, escape sequence or
    bidirectional override from the database moves or hides what the operator reads."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


def when(moment: dt.datetime | None, never: str = "never") -> str:
    """A time as operators read it in a command's lines (UTC, to the minute)."""
    return never if moment is None else f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def iso(moment: dt.datetime | None) -> str | None:
    """A time in a command's JSON."""
    return None if moment is None else moment.isoformat()


class OperatorCommand(BaseCommand):
    """A command that prints either readable lines or, with --json, one JSON object."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        """argparse repeats what it could not read ("unrecognized arguments: ...", "invalid int
        value: ..."), which may be a token pasted in the wrong place: cut as the logs cut it."""
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        report = parser.error

        def error(message: str) -> NoReturn:
            report(redact_text(message))
            raise AssertionError("argparse's error() returns only by raising")  # pragma: no cover

        parser.error = error  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def report(self, options: dict[str, Any], data: dict[str, Any], lines: list[str]) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(data))
        else:
            for line in lines:
                self.stdout.write(line)
