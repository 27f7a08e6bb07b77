"""The counters' writes: the roll-up of closed days, the purge's archive, late attachments.

Every change to an account's `VendorDay` rows holds its `RolledUp` row's lock and moves its
`version`, in the transaction of the change (see models.py for why the lead path writes none).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db import IntegrityError, connection, models, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from leadpost.accounts.models import Account
from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.lib.choices import RecordType
from leadpost.records.models import Attachment, AttachmentState, Record
from leadpost.vendors.counts import Counts, day_start
from leadpost.vendors.models import RolledUp, VendorDay

logger = logging.getLogger(__name__)

# A day is rolled up this long after it ends in the account's time zone. A post received before
# the day's end is written in a transaction that begins within a few seconds of its arrival
# (LEADPOST_BODY_TIMEOUT at most for the body), so by then it has committed, or it never will.
MARGIN = dt.timedelta(minutes=10)

# (URL id, record mode, day) -> what the posts of that URL, mode and day came to.
Key = tuple[int, str, dt.date]
Tally = dict[Key, Counts]

_POST_COLUMNS = (
    "id",
    "lead_post_url_id",
    "record_mode",
    "received_at",
    "result",
    "warnings",
    "answer_us",
    "agent_id",
    "earlier_type",
)
# The post's record's servicing agent, looked up by the record's primary key for each post: a
# join let PostgreSQL's planner hash the whole records table (a sequential scan of every record
# of every account: 0.5 s with 900,000 of them, bench/vendor_figures.py) to match one day's posts.
_AGENT = Subquery(Record.objects.filter(pk=OuterRef("record_id")).values("servicing_agent_id"))
# The record type of the record the post's record is flagged as a possible duplicate of (SPEC §14),
# looked up the same way, by primary keys, for the same reason.
_EARLIER = Subquery(
    Record.objects.filter(pk=OuterRef("record_id")).values("duplicate_of__record_type")
)


def _prices(url_ids: Iterable[int]) -> dict[int, int | None]:
    prices: dict[int, int | None] = {}
    for pk, price in LeadPostUrl.objects.filter(pk__in=set(url_ids)).values_list(
        "pk", "price_per_lead"
    ):
        prices[pk] = None if price is None else int(Decimal(price) * 100)
    return prices


def tally_posts(posts: models.QuerySet[PostLog], tz: dt.tzinfo) -> Tally:
    """What `posts` came to, per URL, record mode and day of `tz`."""
    tally: Tally = defaultdict(Counts)
    wanting: dict[tuple[Key, str], int] = {}  # a warning without an example: a post that has it
    rows = list(posts.annotate(agent_id=_AGENT, earlier_type=_EARLIER).values_list(*_POST_COLUMNS))
    prices = _prices(row[1] for row in rows)
    for pk, url_id, mode, received_at, result, warnings, answer_us, agent_id, earlier in rows:
        key = (url_id, mode, received_at.astimezone(tz).date())
        # A flag is counted in its post's record mode, read without Sales Enablement in the
        # Individual mode: there, an Individual flagged against a Sales Record is not counted
        # (the count would tell of a Sales Record; SPEC §10).
        flagged = earlier is not None and (
            mode == RecordType.SALES_RECORD or earlier == RecordType.INDIVIDUAL
        )
        for warning in tally[key].count_post(
            result, warnings or (), answer_us, agent_id, prices.get(url_id), flagged
        ):
            wanting.setdefault((key, warning), pk)
    _examples(tally, wanting)
    return dict(tally)


def _examples(tally: Tally, wanting: dict[tuple[Key, str], int]) -> None:
    """Each warning's example: the value its first post sent, from that post's logged (redacted)
    parameters. One query for all of them, reading only those posts' parameters."""
    if not wanting:
        return
    from leadpost.vendors.counts import example_of, split_key

    params = dict(PostLog.objects.filter(pk__in=set(wanting.values())).values_list("pk", "params"))
    for (key, warning), pk in wanting.items():
        sent = params.get(pk)
        if isinstance(sent, dict):
            tally[key].warnings[warning].example = example_of(split_key(warning)[0], sent)


def tally_attachments(
    account_id: int, start: dt.datetime, end: dt.datetime | None, tz: dt.tzinfo
) -> Tally:
    """Attachments stored and failed of the records the account's URLs made in [start, end),
    counted on the day of their record's post."""
    tally: Tally = defaultdict(Counts)
    rows = Attachment.objects.filter(
        note__record__account_id=account_id,
        note__record__created_at__gte=start,
        note__record__lead_post_url__isnull=False,
        state__in=(AttachmentState.STORED, AttachmentState.FAILED),
    )
    if end is not None:
        rows = rows.filter(note__record__created_at__lt=end)
    for url_id, mode, created_at, state in rows.values_list(
        "note__record__lead_post_url_id",
        "note__record__record_type",
        "note__record__created_at",
        "state",
    ):
        counts = tally[(url_id, mode, created_at.astimezone(tz).date())]
        if state == AttachmentState.STORED:
            counts.attachments_stored += 1
        else:
            counts.attachments_failed += 1
    return dict(tally)


def _add(account_id: int, tally: Tally) -> None:
    """Add `tally` into the account's VendorDay rows (the caller holds its RolledUp lock)."""
    if not tally:
        return
    days = {day for _, _, day in tally}
    existing = {
        (row.lead_post_url_id, row.record_mode, row.day): row
        for row in VendorDay.objects.filter(
            account_id=account_id,
            day__in=days,
            lead_post_url_id__in={url for url, _, _ in tally},
        )
    }
    for key, counts in tally.items():
        row = existing.get(key)
        if row is None:
            url_id, mode, day = key
            VendorDay.objects.create(
                account_id=account_id,
                lead_post_url_id=url_id,
                record_mode=mode,
                day=day,
                **counts.as_stored(),
            )
            continue
        total = Counts.stored(row)
        total.add(counts)
        for name, value in total.as_stored().items():
            setattr(row, name, value)
        row.save()


def _state(account: Account, now: dt.datetime) -> RolledUp:
    """The account's RolledUp row, locked; made on first use, from the day of its first post."""
    state = RolledUp.objects.select_for_update().filter(account=account).first()
    if state is not None:
        return state
    first = (
        PostLog.objects.filter(account=account)
        .order_by("received_at")
        .values_list("received_at", flat=True)
        .first()
    )
    since = day_start(account.local_date(first or now), account.tz)
    try:
        with transaction.atomic():
            RolledUp.objects.create(account=account, until=since)
    except IntegrityError:
        pass  # another worker made it meanwhile
    return RolledUp.objects.select_for_update().get(account=account)


def _writers_from_before(moment: dt.datetime) -> bool:
    """Whether a transaction that has written, and began before `moment`, is still open (it may
    hold a post received before then). PostgreSQL only: SQLite has one writer at a time, and
    this transaction is it."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        # The activity view is read once per transaction and kept: read it afresh.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        # Client sessions only: autovacuum's ANALYZE holds a transaction id too (it writes
        # statistics), and holds no post.
        cursor.execute(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND backend_xid IS NOT NULL "
            "AND xact_start < %s AND pid <> pg_backend_pid() LIMIT 1",
            [moment],
        )
        return cursor.fetchone() is not None


def roll_up_day(account: Account, now: dt.datetime | None = None) -> bool:
    """Add the account's next closed day (or stretch of days without posts) into its counters;
    False when there is none to add yet."""
    now = now or timezone.now()
    tz = account.tz
    closed_until = day_start(account.local_date(now - MARGIN), tz)
    # Looked at without a lock first: most calls find nothing to do, and on SQLite a locking
    # transaction takes the one write lock the posts need.
    until = RolledUp.objects.filter(account=account).values_list("until", flat=True).first()
    if until is not None and until >= closed_until:
        return False
    with transaction.atomic():
        state = _state(account, now)
        if state.until >= closed_until:
            return False
        following = (
            PostLog.objects.filter(account=account, received_at__gte=state.until)
            .order_by("received_at")
            .values_list("received_at", flat=True)
            .first()
        )
        end = closed_until
        if following is not None:
            end = min(end, day_start(account.local_date(following) + dt.timedelta(days=1), tz))
        if end <= state.until:
            return False
        if _writers_from_before(end + MARGIN / 2):
            return False
        posts = PostLog.objects.filter(
            account=account, received_at__gte=state.until, received_at__lt=end
        )
        tally = tally_posts(posts, tz)
        for key, counts in tally_attachments(account.pk, state.until, end, tz).items():
            tally.setdefault(key, Counts()).add(counts)
        _add(account.pk, tally)
        state.until = end
        state.version += 1
        state.save(update_fields=["until", "version"])
    return True


def roll_up(now: dt.datetime | None = None) -> int:
    """Roll up every account's closed days; how many stretches were added."""
    done = 0
    for account in Account.objects.only("pk", "time_zone"):
        while roll_up_day(account, now):
            done += 1
    return done


def archive_posts(ids: list[int]) -> int:
    """Delete these post-log rows, first adding into the counters those the roll-up has not
    reached (the purge: SPEC §13, the figures survive it). Returns how many were deleted."""
    with transaction.atomic():
        accounts = sorted(
            set(PostLog.objects.filter(pk__in=ids).values_list("account_id", flat=True))
        )
        now = timezone.now()
        for account in Account.objects.filter(pk__in=accounts).order_by("pk"):
            state = _state(account, now)
            newer = PostLog.objects.filter(
                pk__in=ids, account=account, received_at__gte=state.until
            )
            tally = tally_posts(newer, account.tz)
            if tally:
                _add(account.pk, tally)
                state.version += 1
                state.save(update_fields=["version"])
        deleted: int = PostLog.objects.filter(pk__in=ids).delete()[0]
    return deleted


def attachment_settled(attachment: Attachment, stored: bool) -> None:
    """A download stored or given up, in its transaction: counted now when its record's day was
    rolled up already (the roll-up counted the day's attachments as they were then)."""
    record = attachment.note.record
    if record.lead_post_url_id is None:
        return
    account = record.account
    state = RolledUp.objects.select_for_update().filter(account_id=account.pk).first()
    if state is None or record.created_at >= state.until:
        return
    counts = Counts()
    if stored:
        counts.attachments_stored = 1
    else:
        counts.attachments_failed = 1
    key = (record.lead_post_url_id, record.record_type, account.local_date(record.created_at))
    _add(account.pk, {key: counts})
    state.version += 1
    state.save(update_fields=["version"])
