"""The read API's cursor: a reader polling with it never misses a record (SPEC §11).

Records are posted through the real Lead Post endpoint (or, by writers that hold their transaction
open, inserted in it) and read back through the real read API, as a CRM would. Tests that need
transactions committing out of order run writers in threads, each with its own database
connection, and order them with events, barriers and the reader's own polls, never with sleeps.
They use `transaction=True`: a reader sees only committed records, so the records must really be
committed, not kept in the test's own open transaction.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client

from leadpost.accounts.models import Account
from leadpost.intake.models import LeadPostUrl
from leadpost.records.models import Record, RecordType

FORM = "application/x-www-form-urlencoded"
# How long a test waits for anything (a thread, a record to show up) before it fails.
DEADLINE_SECONDS = 30

ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def _post(url_token: str, first_name: str) -> int:
    """One vendor post; a fresh client per call so threads never share one."""
    response = Client().post(
        f"/leadpost/{url_token}",
        urlencode({"firstName": first_name, "lastName": "Lead"}),
        content_type=FORM,
    )
    assert response.status_code == 200, response.content
    record_id: int = response.json()["recordId"]
    return record_id


def _insert(account: Account, first_name: str) -> int:
    """A record written by the caller's own transaction, which may stay open as long as it likes.

    A vendor's post cannot be held open from outside (it runs in a durable transaction of its
    own), so a slow writer inserts the record itself: to a reader, a record is a record, whichever
    transaction wrote it."""
    record = Record.objects.create(
        account=account, record_type=RecordType.INDIVIDUAL, first_name=first_name, last_name="Lead"
    )
    return record.pk


def _list(api_token: str, **params: str) -> Any:
    response = Client().get("/api/v1/records", params, HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert response.status_code == 200, response.content
    return response.json()


def settle() -> None:
    """Wait until every transaction that has written so far has ended, so everything committed is
    listable; at once on SQLite.

    On PostgreSQL the list's horizon is the whole server's: any session's open writing
    transaction holds back what readers see, another test run's on the same server included. A
    test that asserts exactly what a page holds first waits for that, as a reader would simply
    poll again later; the wait is on PostgreSQL's own state, paced, not timed.
    """
    if connection.vendor != "postgresql":
        return
    pace = threading.Event()  # never set: only paces the checks
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        (written_below,) = cursor.fetchone()
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            if cursor.fetchone()[0] >= written_below:
                return
            pace.wait(0.01)
    pytest.fail(f"transactions below {written_below} still open after {DEADLINE_SECONDS} s")


class Reader:
    """A CRM polling the API: it keeps `nextCursor` and passes it back as `after` every time."""

    def __init__(self, api_token: str) -> None:
        self.api_token = api_token
        self.cursor: str | None = None
        self.seen: list[int] = []

    def poll(self, **params: str) -> Any:
        if self.cursor is not None:
            params["after"] = self.cursor
        page = _list(self.api_token, **params)
        self.seen += [record["id"] for record in page["records"]]
        self.cursor = page["nextCursor"]
        return page

    def poll_until_seen(self, ids: set[int]) -> None:
        """Poll until every one of `ids` came by (or the deadline passes: the caller's assertion
        then says what was missed). On PostgreSQL a committed record may take a few polls to show:
        any transaction still open on the server holds back what readers see, including other
        test runs' transactions on the same server."""
        pace = threading.Event()  # never set: only paces the polls
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not ids <= set(self.seen) and time.monotonic() < deadline:
            if not self.poll()["records"]:
                pace.wait(0.01)


class PollCount:
    """How many times the reader has polled; writers wait on it to keep a transaction open across
    a given number of the reader's polls (an order of events, not a length of time)."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    @property
    def value(self) -> int:
        with self._changed:
            return self._count

    def tick(self) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    def wait_for(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._count >= count, DEADLINE_SECONDS)


def _in_thread(target: Callable[[], None], errors: list[BaseException]) -> threading.Thread:
    """Run `target` on its own database connection; what it raises is kept for the test to fail
    on, and the connection is closed so the test database can be dropped."""

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # the test reports it; a thread cannot fail a test itself
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# ------------------------------------------------------------------ out-of-order commits


@pytest.mark.django_db(transaction=True)
def test_a_slow_transaction_s_record_is_not_missed(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], api_token: str
) -> None:
    """A transaction holds its insert open while a vendor's post comes and a reader polls: the
    reader sees both records, once each. On PostgreSQL the post commits first, with a higher id
    (the lower id committing after the reader passed it); on SQLite the one write lock makes the
    post wait for the slow transaction."""
    if ON_POSTGRESQL:
        _lower_id_commits_after_the_reader_passed_it(agency, vendor_url, api_token)
    else:
        _post_waits_for_the_slow_transaction(agency, vendor_url, api_token)


def _post_waits_for_the_slow_transaction(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], api_token: str
) -> None:
    reader = Reader(api_token)
    reader.poll()  # its first read writes the token's last use: before the write lock is held
    slow: dict[str, int] = {}
    posted: dict[str, int] = {}
    step = {name: threading.Event() for name in ("a_inserted", "commit")}
    errors: list[BaseException] = []

    def slow_transaction() -> None:
        with transaction.atomic():
            slow["a"] = _insert(agency, "Slow")
            step["a_inserted"].set()
            assert step["commit"].wait(DEADLINE_SECONDS)

    def vendor() -> None:
        posted["b"] = _post(vendor_url[1], "Quick")

    thread = _in_thread(slow_transaction, errors)
    try:
        assert step["a_inserted"].wait(DEADLINE_SECONDS), errors
        poster = _in_thread(vendor, errors)
        reader.poll()  # while A is open: a read, which SQLite's write lock does not block
        assert not set(reader.seen) & {slow["a"]}
    finally:
        step["commit"].set()
        thread.join(DEADLINE_SECONDS)
    poster.join(DEADLINE_SECONDS)
    assert not errors, errors
    a, b = slow["a"], posted["b"]
    assert a < b  # the post's insert waited for A's commit

    reader.poll_until_seen({a, b})
    assert Counter(reader.seen) == Counter([a, b])


def _lower_id_commits_after_the_reader_passed_it(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], api_token: str
) -> None:
    reader = Reader(api_token)
    slow: dict[str, int] = {}
    step = {name: threading.Event() for name in ("a_inserted", "insert_c", "c_inserted", "commit")}
    errors: list[BaseException] = []

    def slow_transaction() -> None:
        # Transaction A stays open after its insert, as a slow post's would (routing waiting on a
        # lock, a slow disk): its ids are taken, its commit is not. It inserts once more after B
        # has committed: C, an id above B's in a transaction older than B's.
        with transaction.atomic():
            slow["a"] = _insert(agency, "Slow")
            step["a_inserted"].set()
            assert step["insert_c"].wait(DEADLINE_SECONDS)
            slow["c"] = _insert(agency, "Slower")
            step["c_inserted"].set()
            assert step["commit"].wait(DEADLINE_SECONDS)

    thread = _in_thread(slow_transaction, errors)
    try:
        assert step["a_inserted"].wait(DEADLINE_SECONDS), errors
        b = _post(vendor_url[1], "Quick")  # B: a higher id, committed at once
        reader.poll()  # the reader passes while A is still open
        step["insert_c"].set()
        assert step["c_inserted"].wait(DEADLINE_SECONDS), errors
    finally:
        step["commit"].set()
        thread.join(DEADLINE_SECONDS)
    assert not errors, errors
    a, c = slow["a"], slow["c"]
    assert a < b < c  # the case in point: the lowest id commits last

    reader.poll_until_seen({a, b, c})
    assert Counter(reader.seen) == Counter([a, b, c])

    # A client of the previous version that knew B's id, the highest it had seen, as its cursor:
    # it still gets C, the record with a higher id (B may come again: its id is not above B's).
    old_client = Reader(api_token)
    old_client.cursor = str(b)
    old_client.poll_until_seen({c})
    assert c in old_client.seen
    assert a not in old_client.seen


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_a_polling_reader_see_every_record_exactly_once(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], api_token: str
) -> None:
    url_token = vendor_url[1]
    writers = 24
    # Seeded, so a failure can be replayed. How many of the reader's polls each writer keeps its
    # transaction open for, its record inserted; those that hold none are vendors' posts.
    rng = random.Random(11)
    holds = [rng.choice([0, 0, 0, 1, 2, 3, 5]) for _ in range(writers)]
    reader = Reader(api_token)
    polls = PollCount()
    # The first read of a token writes when it was last used (then at most once a minute); done
    # before the writers start, so the reader's later polls are reads only and never queue for
    # SQLite's write lock behind a writer that is waiting for those very polls.
    reader.poll()
    start = threading.Barrier(writers)
    written: list[int] = []
    errors: list[BaseException] = []

    def writer(number: int) -> Callable[[], None]:
        def write() -> None:
            start.wait(DEADLINE_SECONDS)
            if not holds[number]:
                written.append(_post(url_token, f"W{number}"))
                return
            with transaction.atomic():
                record_id = _insert(agency, f"W{number}")
                assert polls.wait_for(polls.value + holds[number]), "the reader stopped polling"
            written.append(record_id)

        return write

    threads = [_in_thread(writer(n), errors) for n in range(writers)]
    deadline = time.monotonic() + DEADLINE_SECONDS
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        reader.poll()
        polls.tick()
    for thread in threads:
        thread.join(DEADLINE_SECONDS)
    assert not errors, errors
    assert len(written) == writers

    reader.poll_until_seen(set(written))
    assert Counter(reader.seen) == Counter(written)  # every record, none twice, nothing else


# ------------------------------------------------------------------ the cursor itself


@pytest.mark.django_db(transaction=True)
def test_cursor_pages_through_records_in_order_once(
    vendor_url: tuple[LeadPostUrl, str], api_token: str
) -> None:
    ids = [_post(vendor_url[1], f"N{i}") for i in range(7)]
    settle()
    reader = Reader(api_token)
    pages = [reader.poll(limit="3")]
    while pages[-1]["hasMore"]:
        pages.append(reader.poll(limit="3"))
    assert [len(p["records"]) for p in pages] == [3, 3, 1]
    assert reader.seen == ids  # posted one after another: that is the order they come in
    assert all(isinstance(p["nextCursor"], str) for p in pages)

    # Nothing new: no records, and the same cursor back.
    cursor = reader.cursor
    assert reader.poll() == {"records": [], "nextCursor": cursor, "hasMore": False}
    newer = _post(vendor_url[1], "Late")
    settle()
    assert [r["id"] for r in reader.poll()["records"]] == [newer]
    assert reader.seen == [*ids, newer]


@pytest.mark.django_db(transaction=True)
def test_first_poll_without_a_cursor_starts_at_the_beginning(
    vendor_url: tuple[LeadPostUrl, str], api_token: str
) -> None:
    empty = _list(api_token)
    assert empty["records"] == []
    assert empty["hasMore"] is False
    first = _post(vendor_url[1], "First")
    settle()
    assert [r["id"] for r in _list(api_token, after=empty["nextCursor"])["records"]] == [first]
    assert [r["id"] for r in _list(api_token, after="")["records"]] == [first]


@pytest.mark.django_db(transaction=True)
def test_an_integer_cursor_from_the_previous_version_returns_the_records_with_higher_ids(
    vendor_url: tuple[LeadPostUrl, str], api_token: str, other_agency: Any
) -> None:
    ids = [_post(vendor_url[1], f"N{i}") for i in range(3)]
    # A record of another account: its id is no record of ours, and it means the same.
    _, their_url = LeadPostUrl.issue(other_agency, "NextGen")
    theirs = _post(their_url, "Theirs")
    ids += [_post(vendor_url[1], f"N{i}") for i in range(3, 5)]
    settle()

    page = _list(api_token, after=str(ids[1]))
    assert [r["id"] for r in page["records"]] == ids[2:]
    assert isinstance(page["nextCursor"], str)
    assert _list(api_token, after=page["nextCursor"])["records"] == []

    assert [r["id"] for r in _list(api_token, after=str(theirs))["records"]] == ids[3:]
    assert [r["id"] for r in _list(api_token, after="0")["records"]] == ids

    # Past the newest record: nothing yet, and the cursor handed back still finds what comes next.
    caught_up = _list(api_token, after=str(ids[-1]))
    assert caught_up["records"] == []
    newer = _post(vendor_url[1], "Late")
    settle()
    later = _list(api_token, after=caught_up["nextCursor"])
    assert [r["id"] for r in later["records"]] == [newer]


@pytest.mark.parametrize(
    "after",
    [
        "abc",
        "-1",
        "-5.3",
        "5.-3",
        "99999999999999999999999",  # beyond a 64-bit integer
        "9223372036854775808",  # one past the largest 64-bit integer
        "1.9223372036854775808",
        "1.2.3",
        "1.",
        ".1",
        "1,2",
        " 7",
        "+7",
        "7\n",
        "1_000",
        "٣",  # a digit, but not an ASCII one
        "\x00",
        "7\x00",
        "1.2\x00",
        "9" * 1_000_000,
        "1." + "9" * 1_000_000,
    ],
)
def test_malformed_cursor_is_a_400_with_a_json_error(api_token: str, after: str) -> None:
    response = Client().get(
        "/api/v1/records", {"after": after}, HTTP_AUTHORIZATION=f"Bearer {api_token}"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_parameter"
    assert "`after`" in error["message"]


@pytest.mark.parametrize("limit", ["abc", "\x00", "9" * 1_000_000])
def test_malformed_limit_is_a_400_with_a_json_error(api_token: str, limit: str) -> None:
    response = Client().get(
        "/api/v1/records", {"limit": limit}, HTTP_AUTHORIZATION=f"Bearer {api_token}"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_parameter"
    assert "`limit`" in error["message"]
