"""Caps per day and per month on a Lead Post URL, in the account's time zone (SPEC §14)."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from typing import Any

import pytest
from django.utils import timezone

from leadpost.accounts.models import Account, Permission
from leadpost.intake import caps
from leadpost.intake.actions import Client, receive_lead
from leadpost.intake.lead import DecodedForm
from leadpost.intake.models import CapCount, LeadPostUrl, PostLog
from leadpost.intake.views import answer
from leadpost.records.models import Record

VENDOR = Client(ip="203.0.113.7", user_agent="Datalot/2.1")
CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def chicago(*when: int) -> dt.datetime:
    return dt.datetime(*when, tzinfo=CHICAGO)  # type: ignore[misc]


def lead(n: int | str, **extra: str) -> DecodedForm:
    return DecodedForm({"firstName": "Pat", "lastName": f"Lead{n}", **extra}, [])


def send(url: LeadPostUrl, form: DecodedForm, at: dt.datetime, dry_run: bool = False) -> Any:
    """A post to `url` arriving at `at`, and what the vendor is answered."""
    url.refresh_from_db()
    outcome = receive_lead(url, form, received_at=at, client=VENDOR, dry_run=dry_run)
    return answer(outcome)


def capped(url: LeadPostUrl, *, day: int | None = None, month: int | None = None) -> LeadPostUrl:
    url.cap_per_day, url.cap_per_month = day, month
    url.save(update_fields=["cap_per_day", "cap_per_month"])
    return url


# --- the issue's "Done when": a cap of 3, the fourth post answered over_cap -------------------


def test_the_fourth_post_of_a_cap_of_three_is_over_cap(post, vendor_url):
    url = capped(vendor_url[0], day=3)
    for n in range(3):
        assert post({"firstName": "Pat", "lastName": f"L{n}"}).json()["result"] == "created"
    before = timezone.now()
    response = post({"firstName": "Pat", "lastName": "Fourth", "ssn": "123-45-6789"})

    assert response.status_code == 429
    body = response.json()
    assert body["result"] == "over_cap"
    assert body["postId"] == int(response["X-Lead-Post-Id"])
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(None, "over_cap")]
    assert "3 leads a day" in body["errors"][0]["message"]
    # The cap's period ends at the next midnight in Chicago, and Retry-After points there.
    resets = dt.datetime.fromisoformat(body["cap"]["resetsAt"])
    local = before.astimezone(CHICAGO)
    assert body["cap"] == {"period": "day", "limit": 3, "resetsAt": body["cap"]["resetsAt"]}
    assert resets == dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), CHICAGO)
    assert Record.objects.count() == 3
    # Logged like every post, redacted (SPEC §9), with the answer it got.
    row = PostLog.objects.get(pk=body["postId"])
    # Retry-After: whole seconds from the post's arrival to the next period.
    assert response["Retry-After"] == str(math.ceil((resets - row.received_at).total_seconds()))
    assert (row.result, row.status_code, row.record) == ("over_cap", 429, None)
    assert row.params["ssn"] == "***-**-6789"
    assert row.errors == body["errors"]
    assert "123-45-6789" not in response.content.decode()
    assert CapCount.objects.get(lead_post_url=url).count == 3


# --- periods in the account's time zone ------------------------------------------------------


def test_a_day_is_the_accounts_day_and_the_cap_resets_at_local_midnight(vendor_url):
    url = capped(vendor_url[0], day=1)
    # 23:30 in Chicago is 05:30 the next day in UTC: it counts on the Chicago day.
    assert send(url, lead(1), chicago(2026, 3, 4, 23, 30)).body["result"] == "created"
    late = send(url, lead(2), chicago(2026, 3, 4, 23, 45))
    assert late.status == 429 and late.body["result"] == "over_cap"
    assert late.body["cap"]["resetsAt"] == "2026-03-05T00:00:00-06:00"
    assert late.headers["Retry-After"] == str(15 * 60)
    assert send(url, lead(3), chicago(2026, 3, 5, 0, 0)).body["result"] == "created"
    counted = dict(CapCount.objects.values_list("period_start", "count"))
    assert counted == {dt.date(2026, 3, 4): 1, dt.date(2026, 3, 5): 1}


def test_retry_after_across_a_dst_change_counts_real_seconds(vendor_url):
    url = capped(vendor_url[0], day=1)
    # 2026-03-08 is 23 hours long in Chicago (clocks jump from 02:00 to 03:00).
    send(url, lead(1), chicago(2026, 3, 8, 0, 30))
    over = send(url, lead(2), chicago(2026, 3, 8, 0, 30))
    assert over.body["cap"]["resetsAt"] == "2026-03-09T00:00:00-05:00"
    assert over.headers["Retry-After"] == str(22 * 3600 + 30 * 60)
    # And the 25-hour day of November.
    send(url, lead(3), chicago(2026, 11, 1, 0, 0))
    over = send(url, lead(4), chicago(2026, 11, 1, 0, 0))
    assert over.body["cap"]["resetsAt"] == "2026-11-02T00:00:00-06:00"
    assert over.headers["Retry-After"] == str(25 * 3600)


def test_a_month_is_the_accounts_month(vendor_url):
    url = capped(vendor_url[0], month=2)
    assert send(url, lead(1), chicago(2026, 1, 2, 9, 0)).body["result"] == "created"
    # 23:30 on Jan 31 in Chicago is already February in UTC: still January's.
    assert send(url, lead(2), chicago(2026, 1, 31, 23, 30)).body["result"] == "created"
    over = send(url, lead(3), chicago(2026, 1, 31, 23, 59, 30))
    assert over.body["cap"] == {
        "period": "month",
        "limit": 2,
        "resetsAt": "2026-02-01T00:00:00-06:00",
    }
    assert over.headers["Retry-After"] == "30"
    assert send(url, lead(4), chicago(2026, 2, 1, 0, 0)).body["result"] == "created"
    # December's cap resets on the first of the next year.
    send(url, lead(5), chicago(2026, 12, 20, 12, 0))
    send(url, lead(6), chicago(2026, 12, 20, 12, 0))
    over = send(url, lead(7), chicago(2026, 12, 31, 12, 0))
    assert over.body["cap"]["resetsAt"] == "2027-01-01T00:00:00-06:00"
    assert Record.objects.count() == 5


def test_with_both_caps_the_one_reached_is_answered(vendor_url):
    url = capped(vendor_url[0], day=2, month=3)
    at = chicago(2026, 5, 10, 12, 0)
    assert [send(url, lead(n), at).body["result"] for n in range(3)] == [
        "created",
        "created",
        "over_cap",
    ]
    assert send(url, lead(3), at).body["cap"]["period"] == "day"
    nxt = at + dt.timedelta(days=1)
    assert send(url, lead(4), nxt).body["result"] == "created"
    over = send(url, lead(5), nxt)
    assert over.body["cap"] == {
        "period": "month",
        "limit": 3,
        "resetsAt": "2026-06-01T00:00:00-05:00",
    }
    # The day's count of the post the month refused went back with its transaction.
    counts = dict(CapCount.objects.filter(period="day").values_list("period_start", "count"))
    assert counts == {dt.date(2026, 5, 10): 2, dt.date(2026, 5, 11): 1}


def test_a_time_zone_far_from_utc(vendor_url, agency):
    agency.time_zone = "Pacific/Kiritimati"  # UTC+14
    agency.save()
    url = capped(vendor_url[0], day=1)
    at = dt.datetime(2026, 7, 1, 11, 0, tzinfo=dt.UTC)  # already July 2, 01:00 there
    send(url, lead(1), at)
    over = send(url, lead(2), at)
    assert over.body["cap"]["resetsAt"] == "2026-07-03T00:00:00+14:00"
    assert over.headers["Retry-After"] == str(23 * 3600)


# --- what counts ---------------------------------------------------------------------------


def test_duplicates_rejected_posts_and_dry_runs_do_not_count(vendor_url):
    url = capped(vendor_url[0], day=2)
    at = chicago(2026, 4, 1, 10, 0)
    assert send(url, lead("a", externalID="A"), at).body["result"] == "created"
    assert send(url, lead("a", externalID="A"), at).body["result"] == "duplicate"
    rejected = send(url, DecodedForm({"firstName": "NoLast"}, []), at)
    assert rejected.body["result"] == "rejected"
    dry = send(url, lead("b"), at, dry_run=True)
    assert (dry.body["result"], dry.body["wouldBe"]) == ("test", "created")
    assert "cap" not in dry.body
    assert CapCount.objects.get().count == 1
    assert send(url, lead("b", externalID="B"), at).body["result"] == "created"
    # Full: a dry run says so without counting, a retry of a bought lead is still a duplicate.
    dry = send(url, lead("c"), at, dry_run=True)
    assert (dry.status, dry.body["wouldBe"], dry.body["cap"]["limit"]) == (200, "over_cap", 2)
    dry_dup = send(url, lead("a", externalID="A"), at, dry_run=True)
    assert dry_dup.body["wouldBe"] == "duplicate"
    retry = send(url, lead("a", externalID="A"), at)
    assert (retry.status, retry.body["result"]) == (200, "duplicate")
    over = send(url, lead("c", externalID="C"), at)
    assert (over.status, over.body["result"]) == (429, "over_cap")
    # A post that would be rejected is told so, cap or not.
    assert send(url, DecodedForm({"lastName": "X"}, []), at).body["result"] == "rejected"
    assert CapCount.objects.get().count == 2
    assert Record.objects.count() == 2


def test_the_count_in_the_transaction_is_the_truth(vendor_url, monkeypatch):
    """A post that read the counters before another post filled the cap is still refused, by
    the count inside its transaction, and its files go with it."""
    url = capped(vendor_url[0], day=1)
    at = chicago(2026, 4, 1, 10, 0)
    send(url, lead(1), at)
    monkeypatch.setattr(caps, "reached", lambda *args: None)  # as if read before the commit
    note = {
        "attachment_note_1_body_text": "ID card",
        "attachment_note_1_attachment_1_base64_data": "aGVsbG8=",
        "attachment_note_1_attachment_1_file_name": "id.txt",
    }
    over = send(url, lead(2, **note), at)
    assert (over.status, over.body["result"]) == (429, "over_cap")
    assert Record.objects.count() == 1
    assert CapCount.objects.get().count == 1


def test_a_rolled_back_count_is_not_taken(vendor_url):
    from django.db import transaction

    url = capped(vendor_url[0], day=1)
    at = chicago(2026, 4, 1, 10, 0)
    with pytest.raises(RuntimeError), transaction.atomic():
        assert caps.take(url, url.account, at) is None
        raise RuntimeError("the record's transaction failed")
    assert send(url, lead(1), at).body["result"] == "created"


def test_an_uncapped_url_never_touches_the_counters(post):
    for n in range(3):
        assert post({"firstName": "Pat", "lastName": f"L{n}"}).json()["result"] == "created"
    assert not CapCount.objects.exists()


def test_a_cap_changed_on_the_form_reaches_the_next_post(post, vendor_url):
    url = capped(vendor_url[0], day=1)
    assert post({"firstName": "A", "lastName": "B"}).status_code == 200
    assert post({"firstName": "A", "lastName": "C"}).status_code == 429
    capped(LeadPostUrl.objects.get(pk=url.pk), day=2)  # saved as a form saves it
    assert post({"firstName": "A", "lastName": "D"}).status_code == 200
    capped(LeadPostUrl.objects.get(pk=url.pk))  # no cap at all
    assert post({"firstName": "A", "lastName": "E"}).status_code == 200
    # Lowered below what the day already has: over at once.
    capped(LeadPostUrl.objects.get(pk=url.pk), day=1)
    assert post({"firstName": "A", "lastName": "F"}).json()["result"] == "over_cap"


# --- the forms -----------------------------------------------------------------------------


def _change(client: Any, prefix: str, url: LeadPostUrl, **values: str) -> Any:
    data = {
        "label": url.label,
        "enabled": "on",
        "default_lead_source": "",
        "rate_limit_per_minute": "",
        "price_per_lead": "",
        "cap_per_day": "",
        "cap_per_month": "",
        **values,
    }
    return client.post(f"/{prefix}/intake/leadposturl/{url.pk}/change/", data)


HOSTILE_CAPS = [
    "-1",
    "0",
    "99999999999999999999999999",
    "100000001",
    "abc",
    "1e3",
    "3.5",
    "5\x00",
    "9" * 1_000_000,
]


@pytest.fixture
def manager(client: Any, agency: Account, staff_member: Any) -> Any:
    user = staff_member(agency, "mia", Permission.MANAGE_URLS, password="pw-mia-1234x")
    client.force_login(user)
    return client


@pytest.mark.parametrize("value", HOSTILE_CAPS, ids=range(len(HOSTILE_CAPS)))
@pytest.mark.parametrize("name", ["cap_per_day", "cap_per_month"])
def test_hostile_caps_are_refused_on_the_staff_form(manager, vendor_url, name, value):
    url = vendor_url[0]
    response = _change(manager, "staff", url, **{name: value})
    assert response.status_code == 200  # the form again, with its error
    assert "errornote" in response.content.decode()
    url.refresh_from_db()
    assert (url.cap_per_day, url.cap_per_month) == (None, None)


def test_staff_set_and_clear_caps_on_the_urls_page(manager, vendor_url):
    url = vendor_url[0]
    page = manager.get(f"/staff/intake/leadposturl/{url.pk}/change/").content.decode()
    assert 'name="cap_per_day"' in page and 'name="cap_per_month"' in page
    response = _change(manager, "staff", url, cap_per_day=" 250 ", cap_per_month="5000")
    assert response.status_code == 302
    url.refresh_from_db()
    assert (url.cap_per_day, url.cap_per_month) == (250, 5000)
    assert _change(manager, "staff", url).status_code == 302
    url.refresh_from_db()
    assert (url.cap_per_day, url.cap_per_month) == (None, None)


def test_operators_issue_a_capped_url(client, agency, django_user_model):
    operator = django_user_model.objects.create_superuser("op", "op@example.com", "pw-op-12345")
    client.force_login(operator)
    response = client.post(
        "/admin/intake/leadposturl/add/",
        {"account": agency.pk, "label": "Capped", "enabled": "on", "cap_per_day": "3"},
    )
    assert response.status_code == 302
    url = LeadPostUrl.objects.get(label="Capped")
    assert (url.cap_per_day, url.cap_per_month) == (3, None)
    bad = client.post(
        "/admin/intake/leadposturl/add/",
        {"account": agency.pk, "label": "Bad", "enabled": "on", "cap_per_month": "-5"},
    )
    assert bad.status_code == 200 and not LeadPostUrl.objects.filter(label="Bad").exists()


def test_the_purge_drops_the_counts_of_periods_long_over(vendor_url):
    from django.core.management import call_command

    url = capped(vendor_url[0], day=5, month=50)
    now = timezone.now()
    send(url, lead(1), now - dt.timedelta(days=70))
    send(url, lead(2), now)
    assert CapCount.objects.count() == 4
    call_command("purge_post_log", "--days", "90", stdout=None)
    kept = set(CapCount.objects.values_list("period", "period_start", "count"))
    assert kept == {(c.period, c.start, 1) for c in caps.caps_of(url, url.account, now)}
