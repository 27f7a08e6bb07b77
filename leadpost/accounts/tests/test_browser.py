"""The staff pages in a real browser: Debian's Chromium driven by Playwright against a live server.

Never skipped: without /usr/bin/chromium these tests fail and say how to install it. No browser is
ever downloaded (`playwright install` is not used): Playwright drives the system's Chromium.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.db import connections
from playwright.sync_api import Browser, Page, expect, sync_playwright

from leadpost.accounts.models import Permission
from leadpost.records.models import CustomField, FieldType, RecordType

CHROMIUM = "/usr/bin/chromium"
# Headless, and quiet on a closed network: no background requests, updates, sync or QUIC.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "pw-browser-4417z"
QUOTE = b"%PDF-1.4\n% a scanned quote, page 1 of 1\n"


@pytest.fixture
def browser(live_server, monkeypatch) -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"The browser tests need Debian's Chromium at {CHROMIUM}, which is missing. Install it "
            "with `apt-get install -y chromium` (as root; `python3 dev.py test` and .ci/run do "
            "this themselves). Do not run `playwright install`.",
            pytrace=False,
        )
    # Playwright's sync API runs an event loop in this thread for as long as it is started, and
    # Django refuses database calls while a loop runs; the test's own queries are synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # Meanwhile the test ran in another contextvars context, so its queries went through
            # a database connection of their own: close it here, in that context, or it outlives
            # the test (and PostgreSQL then refuses to drop the test database).
            connections.close_all()


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def log_in(page: Page, username: str) -> None:
    page.goto("/staff/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/$"))


def test_agency_admin_switches_mode_copies_a_parameter_and_reads_a_lead(
    page: Page, live_server, agency, vendor_url, staff_member
):
    staff_member(
        agency,
        "ada",
        Permission.SALES_ENABLEMENT,
        Permission.MANAGE_DATA,
        password=PASSWORD,
        first_name="Ada",
        last_name="Admin",
    )
    CustomField.objects.create(
        account=agency,
        entity_type=RecordType.SALES_RECORD,
        name="Home Value",
        field_type=FieldType.CURRENCY,
    )
    CustomField.objects.create(
        account=agency,
        entity_type=RecordType.INDIVIDUAL,
        name="Policy Count",
        field_type=FieldType.NUMBER,
    )

    log_in(page, "ada")
    expect(page.locator("#content-main")).to_contain_text("Lead Post creates Individual Records")

    # The Lead Post Utility: switch to Sales Records.
    page.get_by_role("link", name="Lead Post Utility").click()
    page.select_option("#id_record_mode", RecordType.SALES_RECORD)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messagelist")).to_contain_text(
        "Lead Post now creates Sales Enablement Leads (Sales Records)"
    )
    expect(page.locator("#id_record_mode")).to_have_value(RecordType.SALES_RECORD)
    agency.refresh_from_db()
    assert agency.record_mode == RecordType.SALES_RECORD

    # The Custom Fields page: pick the entity type, copy a parameter.
    page.goto("/staff/")
    page.get_by_role("link", name="Custom Fields page").click()
    expect(page.locator("#custom-fields")).to_contain_text("custom_Policy Count")
    with page.expect_navigation():
        page.select_option("#entity_type", RecordType.SALES_RECORD)
    expect(page).to_have_url(re.compile(r"entity_type=sales_record"))
    expect(page.locator("#custom-fields")).not_to_contain_text("custom_Policy Count")
    row = page.locator("#custom-fields tbody tr", has_text="Home Value")
    expect(row.locator("code.parameter")).to_have_text("custom_Home Value")
    copy = row.locator("button.copy")
    expect(copy).to_have_text("Copy")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "custom_Home Value"

    # A vendor posts a lead with a custom field and a note with a file.
    token = vendor_url[1]
    answer = httpx.post(
        f"{live_server.url}/leadpost/{token}",
        data={
            "firstName": "Marisol",
            "lastName": "Quintero",
            "custom_Home Value": "$350,000",
            "attachment_note_1_subject_text": "First call",
            "attachment_note_1_body_text": "Wants a quote for the new house.",
            "attach_file_to_note_1": "1",
            "attachment_note_1_file_name_1": "quote.pdf",
            "attachment_note_1_file_body_1": base64.b64encode(QUOTE).decode(),
        },
        timeout=30,
    ).json()
    assert (answer["result"], answer["recordType"], answer["warnings"]) == (
        "created",
        "salesRecord",
        [],
    )

    # Staff find it among the Sales Records and open it.
    page.goto("/staff/")
    page.get_by_role("link", name="Sales records").first.click()
    page.fill("#searchbar", "Quintero")
    page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Marisol")
    rows.locator("a").first.click()
    expect(page).to_have_url(
        re.compile(rf"/staff/records/salesrecord/{answer['recordId']}/change/")
    )
    expect(page.locator(".field-custom_fields")).to_contain_text("Home Value")
    expect(page.locator(".field-custom_fields")).to_contain_text("350000.00")
    expect(page.locator("#content-main")).to_contain_text("First call")
    expect(page.locator("#content-main")).to_contain_text("Wants a quote for the new house.")
    expect(page.locator("#content-main")).to_contain_text("quote.pdf")

    # And download the file.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="download").click()
    download = download_info.value
    assert download.suggested_filename == "quote.pdf"
    assert Path(download.path()).read_bytes() == QUOTE


def test_a_user_without_the_permissions_cannot_reach_the_utility(page: Page, agency, staff_member):
    # Everything but Manage Data & Custom Fields.
    staff_member(
        agency,
        "sid",
        Permission.SALES_ENABLEMENT,
        Permission.MANAGE_URLS,
        Permission.VIEW_POST_LOG,
        Permission.MANAGE_USERS,
        password=PASSWORD,
    )
    log_in(page, "sid")
    expect(page.get_by_role("link", name="Sales records").first).to_be_visible()
    expect(page.get_by_role("link", name="Lead Post Utility")).to_have_count(0)
    expect(page.get_by_role("link", name="Custom Fields page")).to_have_count(0)

    response = page.goto("/staff/lead-post-utility/")
    assert response is not None and response.status == 403
    expect(page.locator("#content-main")).to_contain_text(
        "You need the Sales Enablement (Visible) and Manage Data & Custom Fields permissions"
    )
    expect(page.locator("#lead-post-utility")).to_have_count(0)
    agency.refresh_from_db()
    assert agency.record_mode == RecordType.INDIVIDUAL
