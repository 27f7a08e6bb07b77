"""Old webhook events go with the post log's purge, unless a delivery still waits on them."""

from __future__ import annotations

import datetime as dt
import io
import json

from django.core.management import call_command
from django.utils import timezone

from leadpost.accounts.models import Account
from leadpost.conftest import PostFn
from leadpost.webhooks.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEvent
from leadpost.webhooks.tasks import dispatch
from leadpost.webhooks.tests.conftest import subscribe


def _events(post: PostFn, agency: Account, count: int) -> list[WebhookEvent]:
    subscribe(agency, "https://crm.example.com/hooks", events=["record.created"])
    for n in range(count):
        assert post({"firstName": "Ann", "lastName": f"Lee {n}"}).status_code == 200
    events = list(WebhookEvent.objects.order_by("pk"))
    for event in events:
        dispatch(event.pk)
    return events


def test_old_finished_events_go_and_waiting_or_recent_ones_stay(
    post: PostFn, agency: Account
) -> None:
    delivered, failed, pending, paused, recent = _events(post, agency, 5)
    states = {
        delivered: DeliveryState.DELIVERED,
        failed: DeliveryState.FAILED,
        pending: DeliveryState.PENDING,
        paused: DeliveryState.PAUSED,
        recent: DeliveryState.DELIVERED,
    }
    for event, state in states.items():
        WebhookDelivery.objects.filter(event=event).update(state=state)
        WebhookAttempt.objects.create(delivery=WebhookDelivery.objects.get(event=event))
    old = timezone.now() - dt.timedelta(days=91)
    WebhookEvent.objects.exclude(pk=recent.pk).update(created_at=old)

    out = io.StringIO()
    call_command("purge_post_log", "--json", stdout=out)

    assert json.loads(out.getvalue())["webhookEvents"] == 2
    kept = set(WebhookEvent.objects.values_list("pk", flat=True))
    assert kept == {pending.pk, paused.pk, recent.pk}
    assert set(WebhookDelivery.objects.values_list("event_id", flat=True)) == kept
    assert set(WebhookAttempt.objects.values_list("delivery__event_id", flat=True)) == kept
