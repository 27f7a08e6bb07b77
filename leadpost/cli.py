"""The `leadpost` console script: Django's management commands, spelled with dashes.

`leadpost issue-url ...` runs the `issue_url` management command; anything else Django knows
(`migrate`, `createsuperuser`, `shell`) passes through unchanged.
"""

from __future__ import annotations

import os
import sys


def command_name(word: str) -> str:
    """`issue-url` -> `issue_url`: the console script's spelling to Django's command module."""
    return word if word.startswith("-") else word.replace("-", "_")


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadpost.settings")
    if args:
        args[0] = command_name(args[0])
    from django.core.management import execute_from_command_line

    execute_from_command_line(["leadpost", *args])


if __name__ == "__main__":
    main()
