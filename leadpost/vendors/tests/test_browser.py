"""The vendor performance pages in a real browser (Debian's Chromium via Playwright): the chart has
a group per day, and a bar's tooltip and label say its count. Screenshots of the pages are kept
under $LEADPOST_TEST_ARTIFACTS/vendors (test-artifacts/vendors by default).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from leadpost.accounts.models import Account, Permission
from leadpost.accounts.tests.test_browser import PASSWORD, browser, log_in, page
from leadpost.conftest import PostFn
from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.records.models import Record
from leadpost.vendors.rollup import roll_up

__all__ = ["browser", "page"]  # the accounts' browser fixtures, used here as they are


def artifacts() -> Path:
    folder = Path(os.environ.get("LEADPOST_TEST_ARTIFACTS", "test-artifacts")) / "vendors"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def posted_on(account: Account, post: PostFn, days_ago: int, leads: list[dict[str, str]]) -> None:
    """Post `leads` now, then move them to noon of a day `days_ago` days back, as if they had
    come then."""
    ids = []
    for data in leads:
        response = post(data)
        assert response.status_code in (200, 400), response.content
        ids.append(int(response["X-Lead-Post-Id"]))
    day = account.local_date(dt.datetime.now(dt.UTC)) - dt.timedelta(days=days_ago)
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=account.tz)
    PostLog.objects.filter(pk__in=ids).update(received_at=noon)
    records = PostLog.objects.filter(pk__in=ids, record__isnull=False).values("record_id")
    Record.objects.filter(pk__in=records).update(created_at=noon)


def lead(n: int) -> dict[str, str]:
    return {"firstName": "Pat", "lastName": f"Lee{n}", "externalID": f"ext-{n}"}


def test_the_vendor_pages_chart_a_week_of_posts(
    page: Page,
    live_server: Any,
    agency: Account,
    vendor_url: tuple[LeadPostUrl, str],
    post: PostFn,
    staff_member: Any,
) -> None:
    url = vendor_url[0]
    staff_member(agency, "ada", Permission.VIEW_POST_LOG, Permission.MANAGE_URLS, password=PASSWORD)
    posted_on(agency, post, 4, [lead(n) for n in range(2)])
    posted_on(agency, post, 2, [*(lead(n) for n in range(10, 15)), {"firstName": "No last"}])
    roll_up()  # the closed days into the counters; today's posts stay live
    posted_on(agency, post, 0, [lead(20), lead(21), lead(22), lead(20)])
    today = agency.local_date(dt.datetime.now(dt.UTC))
    two_days_ago = today - dt.timedelta(days=2)

    log_in(page, "ada")
    page.locator("#vendor-performance").get_by_role("link", name="Vendor performance").click()
    row = page.locator(f'#vendors tr.vendor[data-url-id="{url.pk}"]')
    expect(row.locator("td.posts")).to_have_text("12")
    expect(row.locator("td.created")).to_have_text("10")
    expect(row.locator("td.duplicate")).to_have_text("1")
    expect(row.locator("td.rejected")).to_have_text("1")
    expect(page.locator("svg.posts-chart g.day")).to_have_count(7)
    page.screenshot(path=str(artifacts() / "vendors.png"), full_page=True)

    row.get_by_role("link", name="Datalot").click()
    expect(page.locator("h1")).to_have_text("Vendor performance: Datalot")
    days = page.locator("#posts-chart svg.posts-chart g.day")
    expect(days).to_have_count(7)
    expect(days.last).to_have_attribute("data-day", today.isoformat())
    bar = page.locator(f'#posts-chart g.day[data-day="{two_days_ago.isoformat()}"]')
    expect(bar).to_have_attribute("data-created", "5")
    when = f"{two_days_ago:%b} {two_days_ago.day}, {two_days_ago.year}"
    expect(bar.locator("rect.created title")).to_have_text(f"{when}: 5 created")
    expect(bar.locator("rect.rejected title")).to_have_text(f"{when}: 1 rejected")
    expect(bar.locator("text.total")).to_have_text("6")
    expect(bar.locator("rect.created")).to_be_visible()
    # The bar is drawn where the chart says: its segments stack to the day's total.
    created = bar.locator("rect.created").bounding_box()
    rejected = bar.locator("rect.rejected").bounding_box()
    assert created and rejected
    assert abs(created["height"] - 5 * rejected["height"]) < 1
    expect(page.locator(f'g.day[data-day="{today.isoformat()}"] text.total')).to_have_text("4")
    page.screenshot(path=str(artifacts() / "vendor.png"), full_page=True)

    # Thirty days: thirty groups, the same bar.
    page.get_by_role("link", name="Last 30 days").click()
    expect(days).to_have_count(30)
    expect(bar.locator("rect.created title")).to_have_text(f"{when}: 5 created")

    # The URL's own page: its last 7 days at once, and the way to the full figures.
    page.goto(f"/staff/intake/leadposturl/{url.pk}/change/")
    summary = page.locator("#vendor-summary")
    expect(summary.locator(".posts")).to_have_text("12")
    expect(summary.locator("g.day")).to_have_count(7)
    page.screenshot(path=str(artifacts() / "lead-post-url.png"), full_page=True)
    summary.get_by_role("link", name="The vendor's full figures").click()
    expect(page.locator("h1")).to_have_text("Vendor performance: Datalot")
    for name in ("vendors.png", "vendor.png", "lead-post-url.png"):
        assert (artifacts() / name).stat().st_size > 10_000
