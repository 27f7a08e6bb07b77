from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from leadpost.intake.models import CapCount, PostLog, RateWindow
from leadpost.lib.commands import OperatorCommand
from leadpost.records.duplicates import purge_keys
from leadpost.vendors.rollup import archive_posts, roll_up
from leadpost.webhooks.actions import purge_events


class Command(OperatorCommand):
    help = (
        "Delete post-log entries older than the retention (LEADPOST_POST_LOG_RETENTION_DAYS), "
        "and webhook events as old that nothing waits on (delivered or failed everywhere), with "
        "their deliveries and attempts, and the duplicate look-up's keys past the longest "
        "duplicate window. The vendor performance counters keep what the deleted "
        "posts came to."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Keep this many days instead of the setting.",
        )
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days is None:
            days = settings.LEADPOST_POST_LOG_RETENTION_DAYS
        elif days < 0:
            raise CommandError("--days must be 0 (keep nothing) or more")
        now = timezone.now()
        cutoff = now - dt.timedelta(days=days)
        # Closed days first into the vendor counters, and whatever of the rest is deleted is
        # added to them before it goes (archive_posts): the figures survive the purge (SPEC §13).
        roll_up(now)
        deleted = 0
        # In batches, so a large purge does not hold the write lock (SQLite) or bloat one
        # transaction (PostgreSQL) while posts keep arriving.
        while True:
            ids = list(
                PostLog.objects.filter(received_at__lt=cutoff).values_list("id", flat=True)[:5000]
            )
            if not ids:
                break
            deleted += archive_posts(ids)
        RateWindow.objects.filter(window_start__lt=now - dt.timedelta(hours=1)).delete()
        # A cap's count is needed only while its period lasts: a month begun 62 days ago has
        # ended in every time zone.
        CapCount.objects.filter(period_start__lt=(now - dt.timedelta(days=62)).date()).delete()
        events = purge_events(cutoff)
        # The duplicate look-up's keys past the longest window (SPEC §14): its own age, not
        # the post log's retention.
        match_keys = purge_keys(now)
        self.report(
            options,
            {
                "deleted": deleted,
                "webhookEvents": events,
                "matchKeys": match_keys,
                "olderThan": cutoff.isoformat(),
            },
            [
                f"Deleted {deleted} post-log entries received before {cutoff:%Y-%m-%d %H:%M} UTC, "
                f"and {events} webhook events as old that nothing waits on; "
                f"{match_keys} duplicate match keys past the longest window."
            ],
        )
