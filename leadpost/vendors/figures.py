"""The figures of SPEC §13 for a period: the roll-up's counters plus the post log's newest rows.

A day the roll-up has added is read from its `VendorDay` rows (a few per URL and day, however
many posts); the rest, from the moment it has reached (`RolledUp.until`) on, is counted from the
post log as the page is made: today's posts, and yesterday's for the first minutes after midnight.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from leadpost.accounts.models import Account, User
from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.lib.choices import RecordType
from leadpost.vendors.counts import Counts, day_start
from leadpost.vendors.models import RolledUp, VendorDay
from leadpost.vendors.rollup import Tally, tally_attachments, tally_posts

PERIODS: dict[str, str] = {
    "today": "Today",
    "7": "Last 7 days",
    "30": "Last 30 days",
    "90": "Last 90 days",
}
DEFAULT_PERIOD = "7"
# The longest period asked by dates: a year and a day.
MAX_DAYS = 366
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2999, 12, 31)
_TRIES = 5


class PeriodError(ValueError):
    """A period that cannot be shown: said in words for the page and the API."""


@dataclass(frozen=True)
class Period:
    """Days of the account's time zone, both ends included."""

    first: dt.date
    last: dt.date
    name: str  # a key of PERIODS, or "dates"

    @property
    def days(self) -> list[dt.date]:
        count = (self.last - self.first).days + 1
        return [self.first + dt.timedelta(days=n) for n in range(count)]

    @property
    def label(self) -> str:
        if self.name in PERIODS:
            return PERIODS[self.name]
        return f"{self.first:%b %-d, %Y} – {self.last:%b %-d, %Y}"


def _date(value: str, what: str) -> dt.date:
    text = value.strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{what} must be a date as YYYY-MM-DD.") from None
    # A day's bounds are instants in UTC: near year 1 or 9999 they fall outside what a datetime
    # holds (an OverflowError, a 500). No post is that old, and none will be that new.
    if not EARLIEST <= day <= LATEST:
        raise PeriodError(f"{what} must be a date from {EARLIEST} to {LATEST}.")
    return day


def parse_period(
    account: Account, params: Mapping[str, str], today: dt.date | None = None
) -> Period:
    """The period a page or an API call asks for: `period` (today, 7, 30, 90), or `from` and `to`
    dates; the last 7 days when it asks for none."""
    today = today or account.local_date(dt.datetime.now(dt.UTC))
    start, stop = params.get("from", ""), params.get("to", "")
    if start or stop:
        first = _date(start, "from") if start else None
        last = _date(stop, "to") if stop else today
        if first is None:
            raise PeriodError("from is needed with to: both as YYYY-MM-DD.")
        if last < first:
            raise PeriodError("to must not be before from.")
        if (last - first).days + 1 > MAX_DAYS:
            raise PeriodError(f"A period is at most {MAX_DAYS} days.")
        return Period(first, last, "dates")
    name = params.get("period", "") or DEFAULT_PERIOD
    if name not in PERIODS:
        raise PeriodError("period must be one of: " + ", ".join(PERIODS) + ".")
    length = 1 if name == "today" else int(name)
    return Period(today - dt.timedelta(days=length - 1), today, name)


@dataclass
class VendorFigures:
    """One URL's figures over a period: per day, and in total."""

    url: LeadPostUrl
    days: dict[dt.date, Counts]
    total: Counts = field(default_factory=Counts)
    price_cents: int | None = None


@dataclass
class Report:
    account: Account
    period: Period
    vendors: list[VendorFigures]
    agents: dict[str, str]  # agent id ("" for none) -> name
    sales_visible: bool
    total: Counts = field(default_factory=Counts)

    def vendor(self, url_id: int) -> VendorFigures | None:
        return next((v for v in self.vendors if v.url.pk == url_id), None)


def _modes(sales_visible: bool) -> list[str]:
    return (
        [RecordType.INDIVIDUAL, RecordType.SALES_RECORD]
        if sales_visible
        else [RecordType.INDIVIDUAL]
    )


_STORED_COLUMNS = (
    "lead_post_url_id",
    "record_mode",
    "day",
    "results",
    "warnings",
    "times",
    "agents",
    "attachments_stored",
    "attachments_failed",
    "spend_cents",
    "possible_duplicates",
)


def _read(
    account: Account, period: Period, url_ids: list[int], modes: list[str]
) -> tuple[Tally, Tally]:
    """The counters' rows of the period and the live tally after them, read at one moment: the
    account's version is the same before and after (a roll-up or purge commits between the two
    reads otherwise, and they are read again)."""
    tz = account.tz
    start = day_start(period.first, tz)
    end = day_start(period.last + dt.timedelta(days=1), tz)
    for _ in range(_TRIES):
        before = RolledUp.objects.filter(account=account).values_list("until", "version").first()
        stored: Tally = {}
        # Rows as named tuples, not model instances: a 90-day page reads thousands of them.
        for row in VendorDay.objects.filter(
            account=account,
            day__gte=period.first,
            day__lte=period.last,
            lead_post_url_id__in=url_ids,
            record_mode__in=modes,
        ).values_list(*_STORED_COLUMNS, named=True):
            stored[(row.lead_post_url_id, row.record_mode, row.day)] = Counts.stored(row)
        since = max(start, before[0]) if before else start
        live: Tally = {}
        if since < end:
            posts = PostLog.objects.filter(
                account=account,
                received_at__gte=since,
                received_at__lt=end,
                lead_post_url_id__in=url_ids,
                record_mode__in=modes,
            )
            live = tally_posts(posts, tz)
            for key, counts in tally_attachments(account.pk, since, end, tz).items():
                if key[0] in url_ids and key[1] in modes:
                    live.setdefault(key, Counts()).add(counts)
        after = RolledUp.objects.filter(account=account).values_list("until", "version").first()
        if after == before:
            return stored, live
    return stored, live  # a roll-up per read for five reads: the last one stands


def report(
    account: Account,
    period: Period,
    *,
    sales_visible: bool,
    url_id: int | None = None,
) -> Report:
    """The account's vendors' figures over `period` (or one URL's), in the modes the reader may
    see: Sales Record mode posts only with Sales Enablement (SPEC §10)."""
    urls = list(LeadPostUrl.objects.filter(account=account).order_by("label", "pk"))
    if url_id is not None:
        urls = [u for u in urls if u.pk == url_id]
    modes = _modes(sales_visible)
    stored, live = _read(account, period, [u.pk for u in urls], modes)
    vendors: dict[int, VendorFigures] = {}
    for url in urls:
        price = None if url.price_per_lead is None else int(url.price_per_lead * 100)
        vendors[url.pk] = VendorFigures(
            url, {day: Counts() for day in period.days}, Counts(), price
        )
    filled: set[tuple[int, dt.date]] = set()
    for tally in (stored, live):
        for (pk, _mode, day), counts in tally.items():
            vendor = vendors.get(pk)
            if vendor is None or day not in vendor.days:
                continue
            if (pk, day) in filled:
                vendor.days[day].add(counts)
            else:  # the tallies' Counts are this report's own: the first one is the day's
                vendor.days[day] = counts
                filled.add((pk, day))
    total = Counts()
    agent_ids: set[int] = set()
    for vendor in vendors.values():
        for counts in vendor.days.values():
            vendor.total.add(counts)
        total.add(vendor.total)
        agent_ids |= {int(a) for a in vendor.total.agents if a}
    names = {"": "(no agent)"}
    for pk, first, last in User.objects.filter(pk__in=agent_ids).values_list(
        "pk", "first_name", "last_name"
    ):
        names[str(pk)] = f"{first} {last}".strip() or f"user {pk}"
    return Report(account, period, list(vendors.values()), names, sales_visible, total)
