"""Cross-vendor duplicates (SPEC §14): the look-up a new record of a post makes, and its flag.

A record posted through one Lead Post URL is a possible duplicate of a record of the same account
made within the account's window (`Account.duplicate_window_days`) through another URL when the
two share a phone (any of home, cell, business against any of the other's three), the e-mail
(ignoring case) or the SSN (its blind index: no SSN is decrypted or compared in clear). Records
made by staff (no URL) are neither flagged nor flag others; another account's never match.

Both record types are matched against each other: a person is the same person to the agency
whether the vendor's lead became an Individual or a Sales Record. Who may see the earlier record
is the page's business (the flag on an Individual names a Sales Record only to users who see
Sales Enablement; `visible_duplicate`).

How (bench/README.md, "Cross-vendor duplicates", has the figures): a narrow table of match keys
(`MatchKey`: account, a keyed hash of one phone, e-mail or SSN index, URL, record, time; no value
in clear) with one index, `(account, key, created_at)`. Per post:

- one SELECT of the rows of the lead's keys (at most 5, padded to 5 so the statement has one
  shape) within the window, before the post's transaction: on SQLite no write lock is held while
  it reads, and the flag rides in the record's own INSERT;
- in the record's transaction, one multi-row INSERT of the keys that URL has not sent in the
  last day (`REFRESH`), and none when there is nothing new. A vendor resending one person a
  thousand times a day writes one row per key and day, and every look-up reads a few rows per
  key and URL: its cost follows the days and URLs that sent the key, not the posts.

The window's edge, exactly: a row stands for the record that wrote it (`created_at` is that
record's) and for the records of its URL and key that came in the day after it and wrote none.
A row is a match when its own record is in the window ([received_at - window, received_at]), so
nothing outside the window ever flags (a record 30 days and 1 µs old does not). What a row stands
for but cannot date is missed: a record in the window's first day whose URL had sent the same key
less than a day before it, and not since, is not found (the row is its older neighbour's). That
is a miss of less than a day at the far end of the window, never a false flag (test_duplicates).

The first stored (lowest id) of the matching records is named, the one the agency bought first
(ids follow arrival, but for posts arriving within milliseconds of each other), with the kinds of
key its own rows hold. Two posts of the same key through one URL committing at the same moment may both
write a row: harmless, the look-up reads both (no unique constraint needed, none wanted: it would
make the second post wait for the first). Two posts of one person through two URLs at the same
moment may not see each other (each reads before the other commits): the flag is evidence, not
a lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection

from leadpost.lib.dberrors import describe, is_passing

logger = logging.getLogger(__name__)

PHONE, EMAIL, SSN = "phone", "email", "ssn"
# The order matchedOn lists them in, and the words the staff page uses.
MATCH_KINDS: dict[str, str] = {PHONE: "phone", EMAIL: "e-mail", SSN: "SSN"}
PHONE_COLUMNS = ("home_phone", "cell_phone", "business_phone")
# A URL that sent a key less than this long ago writes no new row for it.
REFRESH = dt.timedelta(days=1)
# The look-up's IN list has this many places: 3 phones, the e-mail, the SSN.
KEYS_PER_LEAD = 5
# The key the padding places hold: no row has it (a hash that came out as 0 is stored as 1).
_NO_KEY = 0


@dataclass(frozen=True, slots=True)
class MatchKeys:
    """What a new record is matched by: its normalised phones, e-mail and SSN blind index."""

    phones: frozenset[str]
    email: str
    ssn_index: str

    def __bool__(self) -> bool:
        return bool(self.phones or self.email or self.ssn_index)

    def hashed(self) -> dict[int, str]:
        """The keys as stored, each with its kind (MATCH_KINDS)."""
        out = {_hash("p", phone): PHONE for phone in sorted(self.phones)[:3]}
        if self.email:
            out[_hash("e", self.email.lower())] = EMAIL
        if self.ssn_index:
            out[_hash("s", self.ssn_index)] = SSN
        return out


@dataclass(frozen=True, slots=True)
class Duplicate:
    """The earlier record a new one possibly duplicates, and what they share."""

    record_id: int
    matched: tuple[str, ...]  # kinds of MATCH_KINDS, in its order

    @property
    def stored(self) -> str:
        return ",".join(self.matched)


@dataclass(frozen=True, slots=True)
class Lookup:
    """What the look-up found, and the keys the new record is to write (`new_keys`: for
    `write_keys`)."""

    duplicate: Duplicate | None = None
    new_keys: tuple[int, ...] = field(default=())
    read: int = 0  # rows the look-up read (bench/duplicates_lookup.py prints them)


# Nothing found, nothing to write: a dry run's, a window of 0's, a lead without keys'.
NO_LOOKUP = Lookup()


def keys_of(fields: dict[str, object], ssn_index: str) -> MatchKeys:
    phones = frozenset(str(fields[c]) for c in PHONE_COLUMNS if fields.get(c))
    return MatchKeys(phones, str(fields.get("email") or ""), ssn_index)


def matched_on(value: str) -> list[str]:
    """A record's `duplicate_matched` as the list the API shows."""
    return [kind for kind in value.split(",") if kind in MATCH_KINDS]


@cache
def _secret() -> bytes:
    # Its own key, derived from the SSN index's: a row's key is not an SSN index, and the table
    # tells nothing a reader could compare with another table's values.
    return hmac.new(settings.SSN_INDEX_KEY.encode(), b"leadpost match keys", "sha256").digest()


def _hash(kind: str, value: str) -> int:
    """A signed 64-bit keyed hash of `kind:value`. 64 bits: the chance that two of an account's
    ten million distinct keys collide is below one in 300,000, and nobody without the secret can
    make them collide; an integer is the narrowest index entry both databases keep."""
    digest = hmac.new(_secret(), f"{kind}:{value}".encode(), hashlib.sha256).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    return key if key != _NO_KEY else 1


def find_duplicate(
    account_id: int,
    url_id: int,
    keys: MatchKeys,
    *,
    received_at: dt.datetime,
    window: dt.timedelta,
) -> Lookup:
    """The first stored (lowest id) record of the account made within `window` before
    `received_at` through a URL other than `url_id`, sharing a key of `keys`; and the keys this
    URL has not sent in the last day (REFRESH), for `write_keys` to store with the new record.

    A database error that is not a passing one is logged and taken as no match (and nothing to
    write): the flag must never cost the vendor its lead (SPEC §4). A passing one (locked, out of
    reach) goes up, as for any other part of a post."""
    hashed = keys.hashed()
    if not hashed:
        return NO_LOOKUP
    # The smallest window is a day (REFRESH): one read serves both the window and this URL's
    # rows of the last day.
    since = received_at - max(window, REFRESH)
    params: list[Any] = [account_id, *hashed, *[_NO_KEY] * (KEYS_PER_LEAD - len(hashed))]
    params += [connection.ops.adapt_datetimefield_value(t) for t in (since, received_at)]
    try:
        with connection.wrap_database_errors, connection.cursor() as cursor:
            cursor.execute(_lookup_sql(), params)
            groups = cursor.fetchall()
    except DatabaseError as exc:
        if is_passing(exc):
            raise
        logger.error("duplicate look-up failed, lead stored unflagged: %s", describe(exc))
        return NO_LOOKUP
    fresh = received_at - REFRESH
    sent: set[int] = set()
    firsts: dict[int, int] = {}  # key: the lowest record id of another URL's rows of it
    read = 0
    for key, row_url, first, last, count in groups:
        read += count
        if row_url == url_id:
            if _aware(last) > fresh:
                sent.add(key)
        else:
            firsts[key] = min(first, firsts.get(key, first))
    new_keys = tuple(k for k in hashed if k not in sent)
    if not firsts:
        return Lookup(None, new_keys, read)
    record_id = min(firsts.values())
    # The kinds of the keys that record wrote (its own rows): what the two leads share.
    kinds = {hashed[key] for key, first in firsts.items() if first == record_id}
    duplicate = Duplicate(int(record_id), tuple(k for k in MATCH_KINDS if k in kinds))
    return Lookup(duplicate, new_keys, read)


def write_keys(
    account_id: int, url_id: int, record_id: int, at: dt.datetime, keys: tuple[int, ...]
) -> None:
    """Store the new record's `keys` (Lookup.new_keys): one INSERT, in the caller's transaction."""
    if not keys:
        return
    when = connection.ops.adapt_datetimefield_value(at)
    params: list[Any] = []
    for key in keys:
        params += [account_id, key, url_id, record_id, when]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(len(keys)), params)


def purge_keys(now: dt.datetime) -> int:
    """Delete the rows no look-up reads any more: older than the longest window of any account
    (and than REFRESH), a day of slack beside. In batches of primary keys, so a large purge does
    not hold SQLite's write lock for long; rows are written in time order, so the old ones are
    the first a scan meets."""
    from django.db.models import Max

    from leadpost.accounts.models import Account
    from leadpost.records.models import MatchKey

    days = Account.objects.aggregate(longest=Max("duplicate_window_days"))["longest"] or 0
    cutoff = now - max(dt.timedelta(days=days), REFRESH) - dt.timedelta(days=1)
    deleted = 0
    while True:
        ids = list(
            MatchKey.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[:5000]
        )
        if not ids:
            return deleted
        deleted += MatchKey.objects.filter(id__in=ids).delete()[0]


@cache
def _lookup_sql_for(vendor: str) -> str:
    """Per key and URL, the first record and the last time: the database folds the rows (a
    month of daily rows per key and URL in the worst case) and returns a few; the index
    `(account, key, created_at)` yields them, no sort beyond the grouping of what it yields."""
    from leadpost.records.models import MatchKey

    qn = connection.ops.quote_name
    key, url, record, created = (
        qn(c) for c in ("key", "lead_post_url_id", "record_id", "created_at")
    )
    places = ", ".join(["%s"] * KEYS_PER_LEAD)
    return (
        f"SELECT {key}, {url}, MIN({record}), MAX({created}), COUNT(*) "  # noqa: S608
        f"FROM {qn(MatchKey._meta.db_table)} WHERE {qn('account_id')} = %s "
        f"AND {key} IN ({places}) AND {created} >= %s AND {created} <= %s "
        f"GROUP BY {key}, {url}"
    )


def _lookup_sql() -> str:
    return _lookup_sql_for(connection.vendor)


@cache
def _insert_sql_for(vendor: str, rows: int) -> str:
    from leadpost.records.models import MatchKey

    qn = connection.ops.quote_name
    columns = ", ".join(
        qn(c) for c in ("account_id", "key", "lead_post_url_id", "record_id", "created_at")
    )
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * rows)
    return f"INSERT INTO {qn(MatchKey._meta.db_table)} ({columns}) VALUES {values}"  # noqa: S608


def _insert_sql(rows: int) -> str:
    return _insert_sql_for(connection.vendor, rows)


def _aware(value: object) -> dt.datetime:
    """A row's created_at as an aware datetime: SQLite's driver returns text for a raw query."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
