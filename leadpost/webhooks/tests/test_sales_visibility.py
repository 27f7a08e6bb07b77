"""A receiver's answer about a Sales Record is Sales Enablement data (SPEC §10) on the pages."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

from leadpost.accounts.models import Account, Permission
from leadpost.conftest import PostFn
from leadpost.lib.choices import RecordType
from leadpost.webhooks.models import WebhookDelivery, WebhookEvent
from leadpost.webhooks.tasks import deliver, dispatch
from leadpost.webhooks.tests.conftest import Answer, Receiver, subscribe

ECHO = b"could not file Ann Sales-Lead, 319-555-0101"


def _page_as(user: Any, delivery: WebhookDelivery) -> str:
    client = Client()
    client.force_login(user)
    url = reverse("staff:webhooks_webhooksubscription_delivery", args=[delivery.pk])
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _one_delivery(post: PostFn, agency: Account, receiver: Receiver) -> WebhookDelivery:
    """A lead posted to a webhook of `record.created`, and its delivery tried once."""
    hook = subscribe(agency, receiver.url, events=["record.created"], receiver=receiver)
    assert post({"firstName": "Ann", "lastName": "Sales-Lead"}).status_code == 200
    [event] = WebhookEvent.objects.all()
    [delivery_id] = dispatch(event.pk)
    deliver(delivery_id)
    return WebhookDelivery.objects.get(pk=delivery_id, subscription=hook)


def test_an_answer_about_a_sales_record_shows_only_with_sales_enablement(
    post: PostFn, agency: Account, receiver: Receiver, staff_member: Any, loopback: None
) -> None:
    agency.record_mode = RecordType.SALES_RECORD
    agency.save()
    receiver.answer(Answer(500, ECHO))
    delivery = _one_delivery(post, agency, receiver)

    urls_only = staff_member(agency, "uma", Permission.MANAGE_URLS)
    both = staff_member(agency, "sam", Permission.MANAGE_URLS, Permission.SALES_ENABLEMENT)
    hidden = _page_as(urls_only, delivery)
    assert "Sales-Lead" not in hidden and "319-555-0101" not in hidden
    assert "need Sales Enablement" in hidden
    # The delivery's state stays visible: it is the webhook's, not the lead's.
    assert "500" in hidden
    assert ECHO.decode() in _page_as(both, delivery)


def test_the_delivery_pages_show_times_in_the_accounts_zone(
    post: PostFn, agency: Account, receiver: Receiver, staff_member: Any, loopback: None
) -> None:
    import datetime as dt
    import zoneinfo

    delivery = _one_delivery(post, agency, receiver)
    hook = delivery.subscription
    admin = staff_member(agency, "uma", Permission.MANAGE_URLS)
    page = _page_as(admin, delivery)
    started = delivery.tries.get().started_at.astimezone(zoneinfo.ZoneInfo(agency.time_zone))
    assert f"Started ({agency.time_zone})" in page
    assert started.strftime("%-I:%M") in page
    assert agency.time_zone == "America/Chicago" and started.utcoffset() != dt.timedelta(0)
    client = Client()
    client.force_login(admin)
    listing = client.get(
        reverse("staff:webhooks_webhooksubscription_deliveries", args=[hook.pk])
    ).content.decode()
    assert f"days of the events, in {agency.time_zone}" in listing
