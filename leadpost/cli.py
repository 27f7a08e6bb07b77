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
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - reads the settings: a bad value stops here
    except ImproperlyConfigured as exc:
        # A setting's own message says what is wrong and how to fix it; a traceback would bury it.
        sys.stderr.write(f"leadpost: {exc}\n")
        sys.exit(2)
    execute_from_command_line(["leadpost", *args])


if __name__ == "__main__":
    main()
