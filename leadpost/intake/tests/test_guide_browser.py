"""The vendor's guide in a real browser (Debian's Chromium via Playwright): from the URL's staff
page to the guide, its print layout, and the shared link opened by a vendor who is not logged in,
until it is revoked. Screenshots under $LEADPOST_TEST_ARTIFACTS/guide (test-artifacts/guide).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from leadpost.accounts.models import Account, Permission
from leadpost.accounts.tests.test_browser import PASSWORD, browser, log_in, page
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.choices import RecordType
from leadpost.records.models import CustomField, FieldType

__all__ = ["browser", "page"]  # the accounts' browser fixtures, used here as they are


def artifacts() -> Path:
    folder = Path(os.environ.get("LEADPOST_TEST_ARTIFACTS", "test-artifacts")) / "guide"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_an_admin_opens_prints_shares_and_revokes_the_guide(
    page: Page,
    browser: Browser,
    live_server: Any,
    agency: Account,
    vendor_url: tuple[LeadPostUrl, str],
    staff_member: Any,
) -> None:
    url, token = vendor_url
    CustomField.objects.create(
        account=agency,
        entity_type=RecordType.INDIVIDUAL,
        name="Plan Type",
        field_type=FieldType.DROPDOWN,
        options=["Gold", "Silver"],
    )
    staff_member(agency, "ada", Permission.MANAGE_URLS, password=PASSWORD)
    log_in(page, "ada")
    page.goto(f"/staff/intake/leadposturl/{url.pk}/change/")
    page.get_by_role("link", name="Open the vendor's guide").click()
    expect(page.locator("article.vendor-guide h1")).to_have_text(
        "Posting leads to Datalot's Lead Post URL"
    )
    expect(page.locator("code.custom-param")).to_have_text(["custom_Plan Type"])
    expect(page.locator("#guide-url-prefix")).to_have_text(url.prefix)
    assert token not in page.content()
    page.screenshot(path=str(artifacts() / "guide.png"), full_page=True)
    # Printed, the staff site's frame and the page's own links are left out.
    page.emulate_media(media="print")
    expect(page.locator(".guide-tools")).to_be_hidden()
    expect(page.locator("#header")).to_be_hidden()
    expect(page.locator("#guide-curl")).to_be_visible()
    page.emulate_media(media="screen")
    page.get_by_role("link", name="Printable version").click()
    expect(page.locator("#guide-curl")).to_contain_text("--data-urlencode custom_Plan+Type=Gold")
    page.pdf(path=str(artifacts() / "guide.pdf"))

    page.goto(f"/staff/intake/leadposturl/{url.pk}/change/")
    page.get_by_role("button", name="Make a shared link").click()
    message = page.locator(".messagelist").inner_text()
    found = re.search(r"(http\S+/guide/[A-Za-z0-9_-]{43})", message)
    assert found, message
    shared = found[1].replace("http://127.0.0.1:8000", live_server.url)
    expect(page.locator("#vendor-guide-box")).to_contain_text("Shared link: live")

    vendor = browser.new_context(base_url=live_server.url).new_page()
    vendor.goto(shared)
    expect(vendor.locator("code.custom-param")).to_have_text(["custom_Plan Type"])
    expect(vendor.locator("#guide-set-url")).to_have_text("LEADPOST_URL='<your Lead Post URL>'")
    assert token not in vendor.content() and url.prefix not in vendor.content()
    vendor.screenshot(path=str(artifacts() / "shared.png"), full_page=True)

    page.get_by_role("button", name="Revoke the shared link").click()
    expect(page.locator(".messagelist")).to_contain_text("revoked")
    answer = vendor.goto(shared)
    assert answer is not None and answer.status == 404
    expect(vendor.locator("h1")).to_have_text("This guide link does not work")
    for name in ("guide.png", "shared.png", "guide.pdf"):
        assert (artifacts() / name).stat().st_size > 10_000
