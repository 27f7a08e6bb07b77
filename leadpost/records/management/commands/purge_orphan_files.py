from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.core.files.storage import default_storage
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from leadpost.lib.commands import OperatorCommand
from leadpost.records.models import Attachment

# attachment_storage_name(): attachments/<account id>/<attachment key>/<file name>
TOP = "attachments"
BATCH = 500


class Command(OperatorCommand):
    help = (
        "Delete stored files that belong to no attachment: a base64 file is written before its "
        "record's transaction, so a server killed in between leaves it behind (and a deleted "
        "record leaves its files). Run daily with purge-post-log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hours",
            default="24",
            help="Only files older than this, 1 or more (default 24): a post in progress has "
            "written its files but not yet committed their rows. 0 only with --dry-run.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be deleted; delete nothing."
        )
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        hours = _hours(options["hours"], dry_run=options["dry_run"])
        cutoff = timezone.now() - dt.timedelta(hours=hours)
        checked = deleted = kept_young = 0
        names: list[str] = []
        for folder_batch in _batches(_key_folders(), BATCH):
            known = set(
                Attachment.objects.filter(key__in=[key for key, _ in folder_batch]).values_list(
                    "key", flat=True
                )
            )
            for key, folder in folder_batch:
                checked += 1
                if key in known:
                    continue
                for file_name in default_storage.listdir(folder)[1]:
                    name = f"{folder}/{file_name}"
                    if default_storage.get_modified_time(name) > cutoff:
                        kept_young += 1
                        continue
                    names.append(name)
                    if not options["dry_run"]:
                        default_storage.delete(name)
                    deleted += 1
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.report(
            options,
            {
                "attachmentFolders": checked,
                "deleted" if not options["dry_run"] else "wouldDelete": deleted,
                "keptYoungerThanCutoff": kept_young,
                "olderThan": cutoff.isoformat(),
            },
            [
                f"{verb} {deleted} stored files of no attachment, older than "
                f"{cutoff:%Y-%m-%d %H:%M} UTC ({checked} attachment folders checked"
                + (f", {kept_young} younger files kept" if kept_young else "")
                + ")."
            ],
        )


MAX_HOURS = 24 * 365 * 10


def _hours(value: str, *, dry_run: bool) -> int:
    """--hours as typed: whole hours, at least 1 (a post's files may be minutes old before their
    rows commit, so a younger file may be a lead about to be answered 200), 0 to look only."""
    if not (value.isascii() and value.isdigit() and len(value) <= 6):
        raise CommandError(f"--hours must be a whole number of hours from 1 to {MAX_HOURS}")
    hours = int(value)
    if hours > MAX_HOURS:
        raise CommandError(f"--hours must be a whole number of hours from 1 to {MAX_HOURS}")
    if hours == 0 and not dry_run:
        raise CommandError(
            "--hours 0 would delete the files of posts still in progress; use 1 or more "
            "(0 only with --dry-run)"
        )
    return hours


def _key_folders() -> Iterator[tuple[str, str]]:
    """(attachment key, its folder) for every folder under attachments/<account>/."""
    try:
        accounts = default_storage.listdir(TOP)[0]
    except FileNotFoundError:  # a local folder before the first file
        return
    for account in accounts:
        for key in default_storage.listdir(f"{TOP}/{account}")[0]:
            yield key, f"{TOP}/{account}/{key}"


def _batches(items: Iterator[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
