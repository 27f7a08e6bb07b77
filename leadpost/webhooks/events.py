"""Writing events (SPEC §12): always inside the transaction of what they report.

A post's events cost one short insert each when the account subscribes to them, and nothing when
it does not (the post's configuration knows which types the account's webhooks take).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from django.db import transaction

from leadpost.lib import fastsql
from leadpost.webhooks.models import EventType, WebhookEvent, WebhookSubscription


def subscribed_types(account_id: int) -> frozenset[str]:
    """The event types at least one of the account's webhooks takes, paused ones included
    (their deliveries wait for them)."""
    types: set[str] = set()
    for events in WebhookSubscription.objects.filter(account_id=account_id).values_list(
        "events", flat=True
    ):
        types.update(events or ())
    return frozenset(types)


def emit(
    account_id: int,
    types: Iterable[str],
    *,
    record_id: int | None = None,
    attachment_id: int | None = None,
    subscribed: Collection[str] | None = None,
) -> list[WebhookEvent]:
    """Write the events of `types` the account subscribes to; call inside the transaction of
    what they report (it is checked: an event outside one could be sent for something that was
    then rolled back). No task is enqueued: the workers' relay (`tasks.relay_events`) finds new
    events by a partial index within a quarter second; a task per post cost the lead endpoint
    more than the events themselves (bench/README.md)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("events are written in the transaction of what they report")
    wanted = subscribed_types(account_id) if subscribed is None else subscribed
    events = [
        WebhookEvent(
            account_id=account_id, type=t, record_id=record_id, attachment_id=attachment_id
        )
        for t in types
        if t in wanted
    ]
    if not events:
        return []
    for event in events:
        fastsql.insert(event)
    return events


def record_events(
    account_id: int,
    record_id: int,
    *,
    assigned: bool,
    subscribed: Collection[str] | None = None,
) -> list[WebhookEvent]:
    """A new record's events: `record.created`, and `record.assigned` when it has an agent."""
    types = [EventType.RECORD_CREATED.value]
    if assigned:
        types.append(EventType.RECORD_ASSIGNED.value)
    return emit(account_id, types, record_id=record_id, subscribed=subscribed)
