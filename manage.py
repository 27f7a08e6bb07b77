#!/usr/bin/env python3
"""Django's `manage.py`, for developers' habits: the same as the `leadpost` console script.

It runs `leadpost.cli.main`, with `leadpost.settings` (unless DJANGO_SETTINGS_MODULE names other
settings, as Django's own manage.py allows), and takes Django's spelling of a command
(`issue_url`) as well as the console script's (`issue-url`).
"""

from leadpost.cli import main

if __name__ == "__main__":
    main()
