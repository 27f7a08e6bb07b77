"""Caps per day and per month on a Lead Post URL, in the account's time zone (SPEC §14).

A cap counts records created, nothing else: `take` counts one inside the record's own
transaction (`actions.store_lead`), with one conditional upsert per cap, so a post rolled back
counts nothing and concurrent posts cannot pass the cap on either database (on PostgreSQL the
upsert locks the period's row until the record commits: posts of one capped URL queue there, no
other URL's do). `reached` reads the counters without writing, for the posts that need not
open a transaction to learn they are over (and for dry runs). URLs without a cap never touch the
table: the caps are read from the URL row each process keeps (intake/config.py), which a change
on the URL's form refreshes in every process through the account's config_version.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.db import connection

from leadpost.accounts.models import Account
from leadpost.intake.models import CapCount, CapPeriod, LeadPostUrl
from leadpost.lib.problems import Problem


@dataclass(frozen=True, slots=True)
class Cap:
    """One cap of a URL as it applies at one moment: its period and that period's bounds."""

    period: CapPeriod
    limit: int
    start: dt.date  # the period's first local day
    resets_at: dt.datetime  # when the next period begins, in the account's time zone


@dataclass(frozen=True, slots=True)
class CapHit:
    """A cap a post would go beyond."""

    cap: Cap

    def as_json(self) -> dict[str, object]:
        cap = self.cap
        return {
            "period": str(cap.period),
            "limit": cap.limit,
            "resetsAt": cap.resets_at.isoformat(),
        }

    def retry_after(self, now: dt.datetime) -> int:
        """Whole seconds from `now` until the next period begins (at least 1)."""
        # In UTC: two times of one ZoneInfo subtract as wall-clock times, wrong across DST.
        left = self.cap.resets_at.astimezone(dt.UTC) - now.astimezone(dt.UTC)
        return max(1, math.ceil(left.total_seconds()))

    def problem(self) -> Problem:
        cap = self.cap
        per = "a day" if cap.period == CapPeriod.DAY else "a month"
        leads = "lead" if cap.limit == 1 else "leads"
        return Problem(
            None,
            "over_cap",
            f"This Lead Post URL takes {cap.limit} {leads} {per} and has reached it: no record "
            f"was made. The cap resets at {cap.resets_at.isoformat()}.",
        )


def _local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The first instant of `day` in `tz`. Where a DST change skips midnight, the wall-clock
    time is read with the offset before the change, which falls just inside the day; normalised
    through UTC so the offset shown is the one in force."""
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC).astimezone(tz)


def caps_of(url: LeadPostUrl, account: Account, at: dt.datetime) -> list[Cap]:
    """The URL's caps as they apply at `at` (day first, then month: the order posts lock them
    in, so two posts never wait on each other's rows the other way round)."""
    if url.cap_per_day is None and url.cap_per_month is None:
        return []
    tz = account.tz
    today = at.astimezone(tz).date()
    caps = []
    if url.cap_per_day is not None:
        tomorrow = today + dt.timedelta(days=1)
        caps.append(Cap(CapPeriod.DAY, url.cap_per_day, today, _local_midnight(tomorrow, tz)))
    if url.cap_per_month is not None:
        first = today.replace(day=1)
        following = (first + dt.timedelta(days=32)).replace(day=1)
        caps.append(Cap(CapPeriod.MONTH, url.cap_per_month, first, _local_midnight(following, tz)))
    return caps


def reached(url: LeadPostUrl, account: Account, at: dt.datetime) -> CapHit | None:
    """The first cap already full at `at` (committed records only), without counting anything."""
    caps = caps_of(url, account, at)
    if not caps:
        return None
    counts = {
        (period, start): n
        for period, start, n in CapCount.objects.filter(
            lead_post_url_id=url.pk, period_start__in={cap.start for cap in caps}
        ).values_list("period", "period_start", "count")
    }
    for cap in caps:
        if counts.get((cap.period, cap.start), 0) >= cap.limit:
            return CapHit(cap)
    return None


def take(url: LeadPostUrl, account: Account, at: dt.datetime) -> CapHit | None:
    """Count one record against each of the URL's caps, in the caller's transaction; the cap it
    would go beyond, if any (then the caller must roll back: a count taken stays taken)."""
    caps = caps_of(url, account, at)
    if not caps:
        return None
    assert connection.in_atomic_block, "a cap is counted in the record's transaction"
    qn = connection.ops.quote_name
    table, period = qn(CapCount._meta.db_table), qn("period")
    with connection.cursor() as cursor:
        for cap in caps:
            # Insert-if-missing and increment-if-below in one statement: on a conflict the row is
            # locked and its latest committed count read, so the WHERE cannot be passed twice.
            cursor.execute(
                f"INSERT INTO {table} (lead_post_url_id, {period}, period_start, count) "  # noqa: S608
                "VALUES (%s, %s, %s, 1) "
                f"ON CONFLICT (lead_post_url_id, {period}, period_start) "
                f"DO UPDATE SET count = {table}.count + 1 WHERE {table}.count < %s "
                "RETURNING count",
                [
                    url.pk,
                    str(cap.period),
                    connection.ops.adapt_datefield_value(cap.start),
                    cap.limit,
                ],
            )
            if cursor.fetchone() is None:
                return CapHit(cap)
    return None
