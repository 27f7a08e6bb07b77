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

Where and what it costs (bench/README.md, "Cross-vendor duplicates"): one SELECT per post, made
before the post's transaction (on SQLite no write lock is held while it reads; the flag goes into
the record's own INSERT, no UPDATE after). It reads one partial index per key (records.models:
`record_dup_*`, entries only for non-empty values of records that came by a URL), each as two
ranges that skip the posting URL's own entries, one row at most per range: its cost is the
number of other URLs' records sharing the key, not the records of the account or of the vendor.
Two posts of the same person committing at the same moment through two URLs may not see each
other (each reads before the other commits): the flag is evidence, not a lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import weakref
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection

from leadpost.lib.dberrors import describe, is_passing

logger = logging.getLogger(__name__)

PHONE, EMAIL, SSN = "phone", "email", "ssn"
# The order matchedOn lists them in, and the words the staff page uses.
MATCH_KINDS: dict[str, str] = {PHONE: "phone", EMAIL: "e-mail", SSN: "SSN"}
PHONE_COLUMNS = ("home_phone", "cell_phone", "business_phone")


@dataclass(frozen=True, slots=True)
class MatchKeys:
    """What a new record is matched by: its normalised phones, e-mail and SSN blind index."""

    phones: frozenset[str]
    email: str
    ssn_index: str

    def __bool__(self) -> bool:
        return bool(self.phones or self.email or self.ssn_index)


@dataclass(frozen=True, slots=True)
class Duplicate:
    """The earlier record a new one possibly duplicates, and what they share."""

    record_id: int
    matched: tuple[str, ...]  # kinds of MATCH_KINDS, in its order

    @property
    def stored(self) -> str:
        return ",".join(self.matched)


def keys_of(fields: dict[str, object], ssn_index: str) -> MatchKeys:
    phones = frozenset(str(fields[c]) for c in PHONE_COLUMNS if fields.get(c))
    return MatchKeys(phones, str(fields.get("email") or ""), ssn_index)


def matched_on(value: str) -> list[str]:
    """A record's `duplicate_matched` as the list the API shows."""
    return [kind for kind in value.split(",") if kind in MATCH_KINDS]


def find_duplicate(
    account_id: int, url_id: int, keys: MatchKeys, *, since: dt.datetime
) -> Duplicate | None:
    """The earliest record the look-up meets of the account, made at or after `since` through a
    URL other than `url_id`, sharing a key of `keys`; None when there is none.

    A database error that is not a passing one is logged and taken as no match: the flag must
    never cost the vendor its lead (SPEC §4). A passing one (locked, out of reach) goes up, as
    for any other part of a post."""
    if not keys:
        return None
    phones = sorted(keys.phones)[:3]
    # One shape of statement whatever the lead holds: a missing key is '' (which the partial
    # indexes hold no entry for, and `NOT (column = '')` refuses), so each database plans it
    # once per connection (PostgreSQL: a prepared statement; SQLite: its statement cache).
    phones += [""] * (3 - len(phones))
    params: list[Any] = []
    for _column in PHONE_COLUMNS:
        if connection.vendor == "sqlite":
            params += _range_params(account_id, phones, url_id, since)
        else:
            for phone in phones:
                params += _range_params(account_id, [phone], url_id, since)
    params += _range_params(account_id, [keys.email], url_id, since)
    params += _range_params(account_id, [keys.ssn_index], url_id, since)
    try:
        with connection.wrap_database_errors:
            rows = _run(params)
    except DatabaseError as exc:
        if is_passing(exc):
            raise
        logger.error("duplicate look-up failed, lead stored unflagged: %s", describe(exc))
        return None
    if not rows:
        return None
    pk, _created, home, cell, business, email, ssn, _url = min(
        rows, key=lambda row: (_aware(row[1]), row[0])
    )
    matched = []
    if keys.phones & {home, cell, business}:
        matched.append(PHONE)
    if keys.email and email and keys.email.lower() == email.lower():
        matched.append(EMAIL)
    if keys.ssn_index and keys.ssn_index == ssn:
        matched.append(SSN)
    return Duplicate(int(pk), tuple(matched))


def _range_params(account_id: int, values: list[str], url_id: int, since: dt.datetime) -> list[Any]:
    when = connection.ops.adapt_datetimefield_value(since)
    return [account_id, *values, url_id, when] * 2  # the ranges below and above the URL


def _sql(vendor: str) -> str:
    """The look-up: for each key's index, the first entry of another URL within the window."""
    from leadpost.records.models import Record

    qn = connection.ops.quote_name
    table = qn(Record._meta.db_table)
    account, url, created = qn("account_id"), qn("lead_post_url_id"), qn("created_at")
    columns = ", ".join(
        qn(c)
        for c in ("id", "created_at", *PHONE_COLUMNS, "email", "ssn_index", "lead_post_url_id")
    )
    # (index, indexed key, the column it is non-empty in, predicate)
    if vendor == "sqlite":
        # Told its index, SQLite walks it once per phone of an IN list: 6 sub-queries, not 18.
        probes = [(f"record_dup_{c}", qn(c), qn(c), "IN (%s, %s, %s)") for c in PHONE_COLUMNS]
    else:
        probes = [
            (f"record_dup_{c}", qn(c), qn(c), "= %s") for c in PHONE_COLUMNS for _ in range(3)
        ]
    probes.append(("record_dup_email", f"LOWER({qn('email')})", qn("email"), "= LOWER(%s)"))
    probes.append(("record_dup_ssn", qn("ssn_index"), qn("ssn_index"), "= %s"))
    # PostgreSQL: the index's own order keeps its generic plan on the index (below). SQLite,
    # told its index, needs none, and an order over an IN list would make it sort the matches.
    order = "" if vendor == "sqlite" else f"ORDER BY {url}, {created} "
    parts = []
    for index, key, column, predicate in probes:
        # SQLite, going by its statistics, would rather walk the created_at index through
        # every record of the window (measured: 39 ms with 10,000 records): it is told which.
        hint = f" INDEXED BY {qn(index)}" if vendor == "sqlite" else ""
        # Two ranges of the URL column, never `<>`: a range is an index condition on both
        # databases, so the posting URL's own entries are not read at all. One equality per
        # phone (not IN) and the index's own order: PostgreSQL's prepared (generic) plan then
        # walks the index whatever its statistics say; with IN and no order it chose a
        # sequential scan when one number was on every record (bench/: 4 ms a sub-query). The conditions of
        # the partial index are spelled out as its definition spells them (SQLite uses a
        # partial index only for a query that repeats its terms).
        for side in ("<", ">"):
            parts.append(
                f"SELECT * FROM (SELECT {columns} FROM {table}{hint} "  # noqa: S608
                f"WHERE {account} = %s AND {key} {predicate} AND NOT ({column} = '') "
                f"AND {url} IS NOT NULL AND {url} {side} %s AND {created} >= %s "
                f"{order} LIMIT 1) AS p"
            )
    return " UNION ALL ".join(parts)


_statements: dict[str, str] = {}


def _run(params: list[Any]) -> list[tuple[Any, ...]]:
    vendor = connection.vendor
    sql = _statements.get(vendor)
    if sql is None:
        sql = _statements[vendor] = _sql(vendor)
    if vendor == "postgresql":
        return _run_prepared(sql, params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


# The server connections (psycopg's, below Django's) that hold the prepared look-up.
_prepared: weakref.WeakSet[Any] = weakref.WeakSet()
_PREPARED_NAME = "leadpost_duplicate_lookup"


def _run_prepared(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """PostgreSQL: the look-up as a statement prepared once per connection (they are kept:
    CONN_MAX_AGE). Planned afresh, its sub-queries took 2 ms a post to plan, ten times
    what running them takes; Django's cursors bind parameters on the client and never prepare."""
    connection.ensure_connection()
    raw = connection.connection
    with connection.cursor() as cursor:
        if raw not in _prepared:
            numbered = sql
            for n in range(1, len(params) + 1):
                numbered = numbered.replace("%s", f"${n}", 1)
            cursor.execute(f"PREPARE {_PREPARED_NAME} AS {numbered}")
            _prepared.add(raw)
        marks = ", ".join(["%s"] * len(params))
        try:
            cursor.execute(f"EXECUTE {_PREPARED_NAME} ({marks})", params)
        except Exception:
            # Prepared again next time (a pooler's DISCARD ALL, a statement gone with a
            # failed PREPARE): one failed look-up, never one per post from then on.
            _prepared.discard(raw)
            raise
        return list(cursor.fetchall())


def _aware(value: object) -> dt.datetime:
    """A row's created_at as an aware datetime: SQLite's driver returns text for a raw query."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
