"""Returning a lead and downloading the month's report, in a real browser (Debian's Chromium via
Playwright, as leadpost/accounts/tests/test_browser.py runs it). Screenshots are kept under
$LEADPOST_TEST_ARTIFACTS/returns (test-artifacts/returns by default)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from leadpost.accounts.models import Account, Permission
from leadpost.accounts.tests.test_browser import PASSWORD, browser, log_in, page
from leadpost.intake.models import LeadPostUrl
from leadpost.returns.models import RecordReturn
from leadpost.returns.tests.conftest import LeadFn, record_page

__all__ = ["browser", "page"]  # the accounts' browser fixtures, used here as they are


def artifacts() -> Path:
    folder = Path(os.environ.get("LEADPOST_TEST_ARTIFACTS", "test-artifacts")) / "returns"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_staff_return_a_lead_and_download_the_month_s_report(
    page: Page,
    live_server: Any,
    agency: Account,
    vendor_url: tuple[LeadPostUrl, str],
    lead: LeadFn,
    staff_member: Any,
) -> None:
    staff_member(
        agency,
        "ada",
        Permission.MANAGE_DATA,
        password=PASSWORD,
        first_name="Ada",
        last_name="Admin",
    )
    record = lead(firstName="Rita", lastName="Return", email="not-an-email")
    lead()  # a second lead of the month, kept
    month = f"{agency.local_date(record.created_at):%Y-%m}"

    log_in(page, "ada")
    page.goto(record_page(record))
    panel = page.locator("#vendor-return")
    expect(panel).to_contain_text("This record may be returned to Datalot until")
    page.select_option("#id_reason", "bad_phone")
    page.fill("#id_note", "Number disconnected; SSN 123-45-6789 on the call")
    page.get_by_role("button", name="Return to vendor").click()
    expect(page.locator(".messagelist")).to_contain_text("Rita Return is returned to Datalot.")
    expect(panel.locator("#returned")).to_contain_text("Returned to Datalot on")
    expect(panel.locator("#returned")).to_contain_text("by Ada Admin.")
    expect(panel.locator(".reason")).to_have_text("Bad phone")
    expect(panel.locator(".note")).to_have_text("Number disconnected; SSN ***-**-6789 on the call")
    expect(page.get_by_role("button", name="Undo the return")).to_be_visible()
    page.screenshot(path=str(artifacts() / "record.png"), full_page=True)
    assert RecordReturn.objects.filter(record=record).exists()

    page.goto("/staff/")
    page.locator("#returns").get_by_role("link", name="Returns to vendors").click()
    page.fill("#month", month)
    page.get_by_role("button", name="Show").click()
    box = page.locator(f'.vendor-returns[data-url-id="{vendor_url[0].pk}"]')
    expect(box.locator(".leads")).to_have_text("2")
    expect(box.locator(".returns")).to_have_text("1")
    expect(box.locator(".share")).to_have_text("50.0%")
    row = box.locator(f'tr.returned-lead[data-record-id="{record.pk}"]')
    expect(row.locator(".reason")).to_have_text("Bad phone")
    expect(row.locator(".evidence")).to_contain_text("warning email:")
    page.screenshot(path=str(artifacts() / "report.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == f"returns-{month}.csv"
    raw = Path(download.value.path()).read_bytes()
    assert raw.startswith("\ufeff".encode())
    assert b"123-45-6789" not in raw and vendor_url[1].encode() not in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    first = rows[0]
    assert (first["row"], first["vendor"], first["leads"], first["returns"]) == (
        "vendor",
        "Datalot",
        "2",
        "1",
    )
    assert [(r["record_id"], r["reason"], r["returned_by"]) for r in rows[1:]] == [
        (str(record.pk), "Bad phone", "Ada Admin")
    ]
    for name in ("record.png", "report.png"):
        assert (artifacts() / name).stat().st_size > 10_000
