"""A webhook made, failing and redelivered in a real browser (Debian's Chromium via Playwright),
against a real receiver on 127.0.0.1. The test runs the deliveries itself, as the worker would
(`tasks.dispatch`, `tasks.deliver`), so it waits for nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from leadpost.accounts.models import Account, Permission
from leadpost.accounts.tests.test_browser import PASSWORD, browser, log_in, page
from leadpost.webhooks.models import DeliveryState, WebhookSubscription
from leadpost.webhooks.secrets import read_secret
from leadpost.webhooks.tests.conftest import Answer, Receiver
from leadpost.webhooks.tests.test_pages import run_deliveries

__all__ = ["browser", "page"]  # the accounts' browser fixtures, used here as they are


def test_an_admin_makes_a_webhook_sees_it_fail_and_redelivers_it(
    page: Page,
    live_server: Any,
    agency: Account,
    staff_member: Any,
    receiver: Receiver,
    loopback: None,  # the receiver is on 127.0.0.1 (tests only)
    tmp_path: Path,
) -> None:
    staff_member(agency, "ada", Permission.MANAGE_URLS, password=PASSWORD)
    log_in(page, "ada")

    page.locator("#lead-post-tools").get_by_role("link", name="Webhooks").click()
    page.get_by_role("link", name="Add webhook").click()
    page.fill("#id_url", receiver.url)
    page.fill("#id_description", "Hawkeye CRM")
    page.get_by_label(re.compile(r"record\.created: ")).check()
    page.get_by_role("button", name="Save", exact=True).click()

    # The secret, once.
    expect(page.locator("#secret-once")).to_contain_text("shown once, copy it now")
    subscription = WebhookSubscription.objects.get(account=agency)
    secret = read_secret(subscription)
    expect(page.locator("#webhook-secret")).to_have_text(secret)
    assert page.content().count(secret) == 1
    page.locator("#continue").click()
    expect(page.locator("#webhook-tools")).to_contain_text(f"whsec_{subscription.secret_hint}")
    assert secret not in page.content()

    # A test event, which the receiver refuses with a 500.
    receiver.answer(Answer(500, b"Internal Server Error: the CRM is down"))
    page.get_by_role("button", name="Send a test event").click()
    expect(page.locator(".messagelist")).to_contain_text("is on its way")
    assert run_deliveries() == [DeliveryState.PENDING]
    page.reload()
    row = page.locator("#deliveries tr.delivery")
    expect(row).to_have_count(1)
    expect(row.locator(".last-status")).to_have_text("500")
    row.locator("a").first.click()
    expect(page.locator("#attempts .attempt .status")).to_have_text(["500"])
    expect(page.locator("#attempts .answer")).to_have_text("Internal Server Error: the CRM is down")

    # The CRM is back: redeliver now, without waiting for the back-off.
    receiver.answer(Answer(200, b"thanks"))
    page.locator("#redeliver").get_by_role("button", name="Redeliver").click()
    expect(page.locator(".messagelist")).to_contain_text("Redelivering")
    assert run_deliveries() == [DeliveryState.DELIVERED]
    page.reload()
    expect(page.locator("#delivery-state")).to_have_text("Delivered")
    expect(page.locator("#attempts .attempt .status")).to_have_text(["200", "500"])
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body  # the same event, the same bytes
    page.screenshot(path=str(tmp_path / "webhook-delivered.png"), full_page=True)
    assert (tmp_path / "webhook-delivered.png").stat().st_size > 0
