"""The counters (SPEC §13): what the figures say equals what the post log holds, before and after
the roll-up and the purge, on the account's days."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from leadpost.accounts.models import Account, User
from leadpost.conftest import PostFn
from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.lib.choices import RecordType
from leadpost.records.models import Attachment, AttachmentState, Note, Record
from leadpost.vendors.counts import MAX_WARNING_KEYS, OTHER_FIELD, Counts
from leadpost.vendors.figures import Period, PeriodError, parse_period, report
from leadpost.vendors.models import RolledUp, VendorDay
from leadpost.vendors.rollup import MARGIN, archive_posts, roll_up, roll_up_day

CHICAGO = dt.timezone(dt.timedelta(hours=-6))  # America/Chicago in winter


def lead(n: int, **extra: str) -> dict[str, str]:
    return {"firstName": "Pat", "lastName": f"Lee{n}", "externalID": f"ext-{n}", **extra}


def figures(account: Account, first: dt.date, last: dt.date, **kwargs: Any) -> Counts:
    found = report(account, Period(first, last, "dates"), sales_visible=True, **kwargs)
    return found.total


def post_log_counts(account: Account) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in PostLog.objects.filter(account=account).values_list("result", flat=True):
        counts[result] = counts.get(result, 0) + 1
    return counts


@pytest.fixture
def mixed(post: PostFn, alice: User) -> None:
    """Posts of every kind a vendor makes: created (one with a bad birth date, one for Alice),
    a duplicate, a rejected one, a dry run, a refused one."""
    assert post(lead(1))["X-Lead-Post-Id"]
    assert post(lead(2, birthDate="1980-13-45")).status_code == 200
    assert post(lead(3, servicingAgentFirstName="Alice", servicingAgentLastName="Agent")).json()[
        "servicingAgent"
    ]
    assert post(lead(1)).json()["result"] == "duplicate"
    assert post({"firstName": "No last name"}).status_code == 400
    assert post(lead(4), suffix="/test").json()["result"] == "test"


def test_figures_equal_the_post_log_before_and_after_the_roll_up(
    agency: Account, mixed: None, vendor_url: tuple[LeadPostUrl, str], alice: User
) -> None:
    today = agency.local_date(timezone.now())
    live = figures(agency, today, today)
    assert dict(live.results) == post_log_counts(agency)
    assert (live.created, live.duplicate, live.rejected, live.dry_runs) == (3, 1, 1, 1)
    assert live.posts == 5  # the dry run is not a post the vendor is paid for
    assert live.agents == {str(alice.pk): 1, "": 2}
    assert live.answered == 6 and live.median_ms is not None
    birth = [w for f, c, w in live.warnings_table() if f == "birthDate"]
    assert birth and birth[0].posts == 1 and birth[0].example == "1980-13-45"

    # The day closes and is rolled up: the same figures, now from one VendorDay row.
    tomorrow = timezone.now() + dt.timedelta(days=1, minutes=11)
    assert roll_up(tomorrow) >= 1
    assert VendorDay.objects.filter(account=agency).count() == 1
    assert RolledUp.objects.get(account=agency).until > timezone.now()
    rolled = figures(agency, today, today)
    assert rolled.results == live.results
    assert rolled.warnings == live.warnings
    assert rolled.times == live.times
    assert rolled.agents == live.agents
    assert roll_up(tomorrow) == 0  # nothing twice

    # The post log is purged: the figures stay.
    call_command("purge_post_log", days=0)
    assert not PostLog.objects.exists()
    assert figures(agency, today, today).results == live.results


def test_purging_posts_the_roll_up_has_not_reached_keeps_them_counted(
    agency: Account, mixed: None
) -> None:
    today = agency.local_date(timezone.now())
    before = figures(agency, today, today)
    call_command("purge_post_log", days=0)  # today's posts: not rolled up yet
    assert not PostLog.objects.exists()
    after = figures(agency, today, today)
    assert after.results == before.results
    assert after.warnings == before.warnings
    # And the roll-up that follows adds none of them twice.
    roll_up(timezone.now() + dt.timedelta(days=1, minutes=11))
    assert figures(agency, today, today).results == before.results


def test_a_post_at_half_past_eleven_in_chicago_counts_on_chicagos_day(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], post: PostFn
) -> None:
    # 23:30 in Chicago on Nov 30 is 05:30 UTC on Dec 1.
    moment = dt.datetime(2026, 11, 30, 23, 30, tzinfo=CHICAGO)
    assert post(lead(1)).status_code == 200
    PostLog.objects.update(received_at=moment)
    nov30, dec1 = dt.date(2026, 11, 30), dt.date(2026, 12, 1)
    assert figures(agency, nov30, nov30).created == 1
    assert figures(agency, dec1, dec1).created == 0
    roll_up(moment + dt.timedelta(days=2))
    assert VendorDay.objects.get(account=agency).day == nov30
    assert figures(agency, nov30, nov30).created == 1
    assert figures(agency, dec1, dec1).created == 0


def test_the_roll_up_waits_for_the_margin_after_the_days_end(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], post: PostFn
) -> None:
    assert post(lead(1)).status_code == 200
    received = PostLog.objects.get().received_at
    midnight = dt.datetime.combine(
        agency.local_date(received) + dt.timedelta(days=1), dt.time(), tzinfo=agency.tz
    )
    assert not roll_up_day(agency, midnight + MARGIN - dt.timedelta(seconds=1))
    assert not VendorDay.objects.exists()
    assert roll_up_day(agency, midnight + MARGIN + dt.timedelta(seconds=1))
    assert VendorDay.objects.get().results == {"created": 1}


def test_days_without_posts_are_passed_in_one_step(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], post: PostFn
) -> None:
    assert post(lead(1)).status_code == 200
    PostLog.objects.update(received_at=timezone.now() - dt.timedelta(days=60))
    assert post(lead(2)).status_code == 200
    # One stretch for the old post's day, one for the 59 empty days up to today.
    assert roll_up() == 2
    assert VendorDay.objects.count() == 1


def test_sales_record_mode_posts_are_counted_apart(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], post: PostFn
) -> None:
    assert post(lead(1)).status_code == 200
    agency.record_mode = RecordType.SALES_RECORD
    agency.save()
    assert post(lead(2)).status_code == 200
    today = agency.local_date(timezone.now())
    period = Period(today, today, "today")
    assert report(agency, period, sales_visible=True).total.created == 2
    assert report(agency, period, sales_visible=False).total.created == 1
    roll_up(timezone.now() + dt.timedelta(days=1, minutes=11))
    assert VendorDay.objects.count() == 2
    assert report(agency, period, sales_visible=False).total.created == 1


def test_another_accounts_posts_are_not_counted(
    agency: Account, other_agency: Account, vendor_url: tuple[LeadPostUrl, str], client: Any
) -> None:
    _, theirs = LeadPostUrl.issue(other_agency, "Theirs")
    for n in range(3):
        client.post(
            f"/leadpost/{theirs}",
            data=f"firstName=A&lastName=B{n}",
            content_type="application/x-www-form-urlencoded",
        )
    today = agency.local_date(timezone.now())
    assert figures(agency, today, today).posts == 0
    assert figures(other_agency, today, today).created == 3


def test_spend_is_created_leads_times_the_price(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], post: PostFn
) -> None:
    url = vendor_url[0]
    url.price_per_lead = Decimal("12.50")
    url.save()
    for n in range(3):
        post(lead(n))
    post(lead(0))  # a duplicate is not paid for
    today = agency.local_date(timezone.now())
    assert figures(agency, today, today).spend_cents == 3750
    roll_up(timezone.now() + dt.timedelta(days=1, minutes=11))
    assert figures(agency, today, today).spend_cents == 3750


def test_a_warnings_example_never_shows_an_ssn_or_a_token(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], post: PostFn
) -> None:
    token = vendor_url[1]
    post(lead(1, ssn="12345", birthDate=f"123-45-6789 {token}", unknownThing="\x00" * 10))
    today = agency.local_date(timezone.now())
    table = figures(agency, today, today).warnings_table()
    shown = " ".join(f"{f} {c} {w.example} {w.message}" for f, c, w in table)
    assert "6789" in shown  # the masked birth date's example: ***-**-6789
    assert "123-45-6789" not in shown
    assert token not in shown and token[:12] not in shown
    assert "\x00" not in shown
    ssn = [w for f, c, w in table if f == "ssn"]
    assert ssn and ssn[0].example == ""  # never an example of an SSN, even a bad one


def test_a_flood_of_distinct_unknown_parameters_is_folded(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], post: PostFn
) -> None:
    params = lead(1)
    params.update({f"junk{n}{'x' * 300}": "v" for n in range(MAX_WARNING_KEYS + 50)})
    assert post(params).status_code == 200
    today = agency.local_date(timezone.now())
    warnings = figures(agency, today, today).warnings
    assert len(warnings) <= MAX_WARNING_KEYS + 1
    assert all(len(key) < 250 for key in warnings)
    assert (
        any(key.startswith(OTHER_FIELD.replace(" ", "_")) for key in warnings)
        or len(warnings) < MAX_WARNING_KEYS
    )


def test_an_attachment_settled_after_its_day_was_rolled_up_is_counted(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], post: PostFn
) -> None:
    from leadpost.records.tasks import _event
    from leadpost.webhooks.models import EventType

    assert post(lead(1)).status_code == 200
    record = Record.objects.get()
    note = Note.objects.create(record=record, number=1, subject="files", body="")
    pending = Attachment.objects.create(
        note=note, number=1, key="k1", file_name="a.pdf", source_url="https://x.example/a"
    )
    stored = Attachment.objects.create(
        note=note, number=2, key="k2", file_name="b.pdf", state=AttachmentState.STORED
    )
    assert stored.pk
    roll_up(timezone.now() + dt.timedelta(days=1, minutes=11))
    today = agency.local_date(record.created_at)
    assert figures(agency, today, today).attachments_stored == 1
    Attachment.objects.filter(pk=pending.pk).update(state=AttachmentState.FAILED)
    _event(
        Attachment.objects.select_related("note__record").get(pk=pending.pk),
        EventType.ATTACHMENT_FAILED,
    )
    found = figures(agency, today, today)
    assert (found.attachments_stored, found.attachments_failed) == (1, 1)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "8"}, "period must be one of"),
        ({"from": "2026-13-01"}, "from must be a date"),
        ({"from": "2026-12-01", "to": "2026-11-01"}, "to must not be before from"),
        ({"to": "2026-11-01"}, "from is needed"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "at most"),
        ({"from": "２０２６-１２-０１"}, "from must be a date"),
        ({"from": "2026-12-01\x00"}, "from must be a date"),
    ],
)
def test_a_bad_period_is_said_in_words(
    agency: Account, params: dict[str, str], message: str
) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(agency, params)


def test_periods(agency: Account) -> None:
    today = dt.date(2026, 12, 1)
    assert parse_period(agency, {}, today) == Period(dt.date(2026, 11, 25), today, "7")
    assert parse_period(agency, {"period": "today"}, today).days == [today]
    assert len(parse_period(agency, {"period": "90"}, today).days) == 90
    custom = parse_period(agency, {"from": "2026-11-01", "to": "2026-11-03"}, today)
    assert custom.days == [dt.date(2026, 11, d) for d in (1, 2, 3)]


def test_archive_posts_deletes_and_counts(agency: Account, mixed: None) -> None:
    ids = list(PostLog.objects.values_list("pk", flat=True))
    assert archive_posts(ids) == len(ids)
    assert VendorDay.objects.get().results["created"] == 3


def test_the_roll_up_waits_for_an_open_writing_transaction_on_postgresql(
    agency: Account, vendor_url: tuple[LeadPostUrl, str], post: PostFn
) -> None:
    """A post received before the day's end may still be in an open transaction: on PostgreSQL
    the day is not rolled up while one that began before (the end + MARGIN / 2) is open. SQLite
    has one writer at a time, so there the question does not arise and the day is rolled up."""
    from django.db import connection

    assert post(lead(1)).status_code == 200
    later = timezone.now() + dt.timedelta(days=1, minutes=11)
    if connection.vendor != "postgresql":
        assert roll_up_day(agency, later)
        return
    import psycopg

    db = connection.settings_dict
    other = psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"],
        dbname=db["NAME"],
    )
    try:
        with other.cursor() as cursor:
            # An open transaction that has written (it holds a transaction id), as a post's does.
            cursor.execute("CREATE TEMP TABLE held (x int)")
            cursor.execute("INSERT INTO held VALUES (1)")
        assert not roll_up_day(agency, later)
        assert not VendorDay.objects.exists()
        other.rollback()  # the transaction ends (its id is released before the answer)
        assert roll_up_day(agency, later)
        assert VendorDay.objects.get().results == {"created": 1}
    finally:
        other.close()


def test_answer_time_percentiles_come_from_the_buckets() -> None:
    counts = Counts()
    for _ in range(90):
        counts.count_post("created", [], 2_500, None, None)  # 2.5 ms
    for _ in range(10):
        counts.count_post("created", [], 900_000, None, None)  # 900 ms
    assert counts.median_ms is not None and 2 <= counts.median_ms <= 3
    assert counts.p95_ms is not None and 800 <= counts.p95_ms <= 1000
    assert Counts().median_ms is None  # no post, no median (not 0)
