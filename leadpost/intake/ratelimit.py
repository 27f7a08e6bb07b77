"""Per-URL rate limiting shared by every app server, counted in the database (SPEC §3, 429)."""

from __future__ import annotations

import datetime as dt

from django.db import connection

from leadpost.intake.models import LeadPostUrl, RateWindow


def allow_post(url: LeadPostUrl, now: dt.datetime, per_minute: int) -> bool:
    """Count this post in the URL's current minute; False once the minute's allowance is spent.

    One upsert in autocommit: the row lock lasts one statement, not the lead's transaction, so
    concurrent posts to one URL do not queue behind each other's inserts.
    """
    window = now.replace(second=0, microsecond=0)
    table = connection.ops.quote_name(RateWindow._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (lead_post_url_id, window_start, count) VALUES (%s, %s, 1) "  # noqa: S608
            "ON CONFLICT (lead_post_url_id, window_start) "
            f"DO UPDATE SET count = {table}.count + 1 RETURNING count",
            [url.pk, connection.ops.adapt_datetimefield_value(window)],
        )
        row = cursor.fetchone()
    return row is not None and int(row[0]) <= per_minute
