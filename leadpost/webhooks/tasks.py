"""Delivering webhook events, run by `leadpost worker` (SPEC §12).

Events are written by the lead's own transaction (the outbox) with no task; `relay_events`, run by
every worker's relay thread, freezes each new event's body, makes one delivery per subscription of
its type and enqueues `deliver_webhooks` per webhook; `deliver` makes one attempt at one delivery,
and a retry is a `deliver_webhook` task at its time. The delivery row is the truth: a task lost
with a dead worker is found again by `sweep_webhooks`, and an attempt cut off by a kill -9 is
tried again once its lease runs out, with the same event id and the same body.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import uuid

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.tasks import task
from django.utils import timezone

from leadpost.accounts.models import Permission, User
from leadpost.lib.fetch import FetchError, Policy, send
from leadpost.lib.logredact import redact_text
from leadpost.lib.ssn import mask_ssn_text
from leadpost.records.models import Attachment, Record
from leadpost.records.serialize import RECORD_PREFETCH, RECORD_RELATED, attachment_json, record_json
from leadpost.webhooks.models import (
    TEST_EVENT,
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from leadpost.webhooks.secrets import read_secret
from leadpost.webhooks.signing import EVENT_ID_HEADER, HEADER, signature

logger = logging.getLogger(__name__)

_RETRIED = {408, 429}
# The first bytes of an answer kept on its attempt (SPEC §12: the first KiB).
HEAD_BYTES = 1024


def policy_for(subscription: WebhookSubscription) -> Policy:
    return Policy(
        max_bytes=HEAD_BYTES,
        timeout=settings.LEADPOST_WEBHOOK_TIMEOUT,
        max_redirects=0,
        allow_loopback=settings.LEADPOST_FETCH_ALLOW_LOOPBACK,
        allow_private=subscription.account.webhooks_allow_private,
    )


# --- dispatch: an event's body, and its deliveries -------------------------------------------


def event_body(event: WebhookEvent) -> str:
    """The JSON an event is sent as: SPEC §12's envelope around the record as §11 returns it."""
    data: object
    extra: dict[str, object] = {}
    if event.type == TEST_EVENT:
        data = {
            "message": "A test event from Leadpost: this webhook's URL and secret work.",
            "webhook": event.only_to_id,
        }
    else:
        record = (
            Record.objects.select_related(*RECORD_RELATED)
            .prefetch_related(*RECORD_PREFETCH)
            .filter(pk=event.record_id or 0)
            .first()
        )
        data = record_json(record) if record is not None else None
        if event.attachment_id is not None:
            attachment = Attachment.objects.filter(pk=event.attachment_id).first()
            extra["attachment"] = attachment_json(attachment) if attachment is not None else None
    envelope = {
        "id": event.public_id,
        "type": event.type,
        "createdAt": event.created_at.isoformat(),
        "data": data,
        **extra,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


def _subscribers(event: WebhookEvent) -> list[WebhookSubscription]:
    if event.only_to_id is not None:
        # Never another account's webhook, whatever `only_to` says.
        return list(
            WebhookSubscription.objects.filter(pk=event.only_to_id, account_id=event.account_id)
        )
    return [
        s
        for s in WebhookSubscription.objects.filter(account_id=event.account_id)
        if event.type in (s.events or ())
    ]


def _dispatch_locked(event: WebhookEvent, now: dt.datetime) -> list[WebhookDelivery]:
    """Freeze a locked, undispatched event's body and make its deliveries (in the caller's
    transaction); the ones due now."""
    if not event.body:
        event.body = event_body(event)
    deliveries = []
    for subscription in _subscribers(event):
        state = DeliveryState.PAUSED if subscription.paused else DeliveryState.PENDING
        try:
            with transaction.atomic():
                deliveries.append(
                    WebhookDelivery.objects.create(
                        event=event, subscription=subscription, state=state, next_attempt_at=now
                    )
                )
        except IntegrityError:
            continue
    event.dispatched = True
    event.save(update_fields=["body", "dispatched"])
    return [d for d in deliveries if d.state == DeliveryState.PENDING]


def _enqueue_by_webhook(due: list[WebhookDelivery]) -> None:
    """One task per webhook for its deliveries, in order: a slow receiver delays only its own
    events, and a task per delivery cost more than the delivery (bench/README.md)."""
    by_webhook: dict[int, list[int]] = {}
    for delivery in due:
        by_webhook.setdefault(delivery.subscription_id, []).append(delivery.pk)
    for ids in by_webhook.values():
        deliver_webhooks.enqueue(ids)


def relay_events(limit: int = 200) -> int:
    """The outbox's relay, run by every worker about four times a second: dispatch new events
    (oldest first) and enqueue their deliveries, in one transaction, so an event is either still
    new or has every delivery with its task. Workers racing for the same events skip the ones
    another holds (PostgreSQL), or take turns (SQLite's one writer). Returns how many events."""
    if not WebhookEvent.objects.filter(dispatched=False).exists():
        return 0  # a read through the partial index: an idle relay takes no write lock (SQLite)
    now = timezone.now()
    with transaction.atomic():
        events = list(
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(dispatched=False)
            .order_by("pk")[:limit]
        )
        due = [d for event in events for d in _dispatch_locked(event, now)]
        _enqueue_by_webhook(due)
    return len(events)


def dispatch(event_id: int) -> list[int]:
    """Dispatch one event now (what the relay does for it, e.g. from a test); its deliveries
    due now, each enqueued."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None or event.dispatched:
            return []
        due = _dispatch_locked(event, timezone.now())
        _enqueue_by_webhook(due)
    return [d.pk for d in due]


@task()
def dispatch_events(event_ids: list[int]) -> int:
    """Dispatch these events now (a test event from the staff page does not wait for the relay;
    tasks enqueued by an earlier version are run too). How many deliveries were started."""
    return sum(len(dispatch(pk)) for pk in event_ids)


@task()
def deliver_webhooks(delivery_ids: list[int]) -> int:
    """First attempts at one webhook's deliveries, in order. One killed mid-way leaves the rest
    to the sweep (their lease runs out, or they were never claimed): at least once, as always."""
    return sum(deliver(pk) == DeliveryState.DELIVERED for pk in delivery_ids)


# --- one attempt at a delivery ----------------------------------------------------------------


def _backoff(attempts: int) -> dt.timedelta:
    base: int = settings.LEADPOST_WEBHOOK_BACKOFF_SECONDS
    most: int = settings.LEADPOST_WEBHOOK_BACKOFF_MAX_SECONDS
    return dt.timedelta(seconds=min(most, base * 2 ** max(0, attempts - 1)))


def _lease() -> dt.timedelta:
    # Longer than one attempt can take (connect, send, and the first KiB read to its deadline).
    return dt.timedelta(seconds=settings.LEADPOST_WEBHOOK_LEASE_SECONDS)


def _claim(delivery_id: int, now: dt.datetime) -> str | None:
    token = uuid.uuid4().hex
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, state=DeliveryState.PENDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(lease_until=now + _lease(), lease_token=token, attempts=F("attempts") + 1)
    )
    return token if claimed else None


def _clean_head(head: bytes) -> str:
    """The first KiB of an answer as staff see it: text, no SSN, no token of ours."""
    text = head.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    if len(head) >= HEAD_BYTES:
        # Cut at the KiB, the answer may end in the first part of a token or an SSN, too short
        # for the patterns below to know it (31 of a token's 43 characters): drop that tail.
        text = _CUT_TAIL.sub("…", text)
    return redact_text(mask_ssn_text(text))


_CUT_TAIL = re.compile(r"[A-Za-z0-9_\-]+\Z")


def _retry_after(value: str | None) -> dt.timedelta | None:
    if value and value.strip().isdigit():
        return dt.timedelta(seconds=min(int(value.strip()), 3600))
    return None


@task()
def deliver_webhook(delivery_id: int) -> str:
    """One attempt at one delivery; the delivery row says what happened."""
    return deliver(delivery_id)


def deliver(delivery_id: int, *, now: dt.datetime | None = None) -> str:
    """One attempt; `now` (tests) is the time the attempt is made at, for the claim, the
    back-off and the retry and pause windows (the signature's timestamp stays the real time)."""
    frozen = now is not None
    now = now or timezone.now()
    token = _claim(delivery_id, now)
    if token is None:
        return "not claimed"
    delivery = (
        WebhookDelivery.objects.select_related("event", "subscription__account")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:  # its webhook was deleted meanwhile
        return "deleted"
    subscription = delivery.subscription
    if subscription.paused:
        WebhookDelivery.objects.filter(pk=delivery.pk, lease_token=token).update(
            state=DeliveryState.PAUSED, attempts=F("attempts") - 1, lease_until=None, lease_token=""
        )
        return DeliveryState.PAUSED
    attempt = WebhookAttempt.objects.create(
        delivery=delivery, started_at=now, error="no answer yet: the attempt is running"
    )
    body = delivery.event.body.encode()
    started = time.monotonic()
    status: int | None = None
    head = ""
    error = ""
    retry = False
    wait: dt.timedelta | None = None
    try:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Leadpost webhooks",
            EVENT_ID_HEADER: delivery.event.public_id,
            HEADER: signature(read_secret(subscription), int(time.time()), body),
        }
        answer = send(
            subscription.url, body, headers, policy_for(subscription), head_bytes=HEAD_BYTES
        )
    except FetchError as exc:
        error = mask_ssn_text(str(exc))[:1000]
        retry = exc.retry
    except Exception as exc:
        # Anything else (a secret that no longer decrypts after a key change, a bug) is settled
        # like a network error: the attempt says so, and the delivery is retried within its
        # window, then given up. Left to the task, the attempt would stay "running", the sweep
        # would blame a dead worker, and the delivery would be tried for ever. The exception's
        # text is not shown (it may quote the secret); its type and the log say what it was.
        logger.exception("webhook delivery %s could not be sent", delivery.pk)
        error = f"could not be sent: {type(exc).__name__} (see the worker's log)"
        retry = True
    else:
        status = answer.status
        head = _clean_head(answer.head)
        if 200 <= status < 300:
            pass
        elif status >= 500 or status in _RETRIED:
            error = f"HTTP {status}"
            retry = True
            wait = _retry_after(answer.headers.get("retry-after")) if status == 429 else None
        elif 300 <= status < 400:
            error = f"HTTP {status}: redirects are not followed; subscribe the final URL"
        elif status == 410:
            error = "HTTP 410 Gone: the receiver asked for no more events; the webhook is paused"
        else:
            error = f"HTTP {status}"
    duration = int((time.monotonic() - started) * 1000)
    WebhookAttempt.objects.filter(pk=attempt.pk).update(
        status_code=status, duration_ms=duration, error=error, response_head=head, finished=True
    )
    settled_at = now if frozen else timezone.now()
    return _settle(delivery, token, status, error, retry, wait, settled_at)


def _settle(
    delivery: WebhookDelivery,
    token: str,
    status: int | None,
    error: str,
    retry: bool,
    wait: dt.timedelta | None,
    now: dt.datetime,
) -> str:
    mine = WebhookDelivery.objects.filter(
        pk=delivery.pk, lease_token=token, state=DeliveryState.PENDING
    )
    subscription = delivery.subscription
    if status is not None and 200 <= status < 300:
        mine.update(
            state=DeliveryState.DELIVERED,
            last_status=status,
            error="",
            delivered_at=now,
            lease_until=None,
            lease_token="",
        )
        # Once a minute is often enough to say "last success" (one write less per delivery).
        recent = subscription.last_success_at is not None and (
            now - subscription.last_success_at < dt.timedelta(minutes=1)
        )
        if subscription.failing_since is not None or not recent:
            WebhookSubscription.objects.filter(pk=subscription.pk).update(
                failing_since=None, last_success_at=now
            )
        return DeliveryState.DELIVERED
    attempts = delivery.attempts  # this one included: the claim counted it
    give_up_at = delivery.created_at + dt.timedelta(hours=settings.LEADPOST_WEBHOOK_RETRY_HOURS)
    # Retried for at least the whole window (SPEC §12): the last back-off is cut short so that
    # one more try is made at its end, rather than giving up early because the next try would
    # fall after it.
    later = min(now + max(_backoff(attempts), wait or dt.timedelta(0)), give_up_at)
    with transaction.atomic():
        if retry and now < give_up_at:
            if mine.update(
                last_status=status,
                error=error,
                next_attempt_at=later,
                lease_until=None,
                lease_token="",
            ):
                deliver_webhook.using(run_after=later).enqueue(delivery.pk)
            state = DeliveryState.PENDING
        else:
            if retry:
                hours = settings.LEADPOST_WEBHOOK_RETRY_HOURS
                error = f"gave up after {attempts} attempts over {hours} hours: {error}"
            mine.update(
                state=DeliveryState.FAILED,
                last_status=status,
                error=error,
                lease_until=None,
                lease_token="",
            )
            state = DeliveryState.FAILED
        _failing(subscription, now, gone=status == 410)
    return state


def _failing(subscription: WebhookSubscription, now: dt.datetime, *, gone: bool) -> None:
    """A failed attempt: the subscription's run of failures starts or grows; 410, or 24 hours of
    failing, pauses it (and its account's admins are told once, when it pauses)."""
    WebhookSubscription.objects.filter(pk=subscription.pk, failing_since__isnull=True).update(
        failing_since=now
    )
    since = (
        WebhookSubscription.objects.filter(pk=subscription.pk)
        .values_list("failing_since", flat=True)
        .first()
    )
    hours = settings.LEADPOST_WEBHOOK_PAUSE_HOURS
    if gone:
        reason = "the receiver answered 410 Gone"
    elif since is not None and now - since >= dt.timedelta(hours=hours):
        reason = f"every delivery failed for {hours} hours"
    else:
        return
    if pause(subscription, reason, at=now):
        transaction.on_commit(lambda: tell_admins(subscription.pk))


# --- pausing, resuming, redelivering ---------------------------------------------------------


def pause(subscription: WebhookSubscription, reason: str, *, at: dt.datetime | None = None) -> bool:
    """Pause a subscription; False when it was paused already."""
    return bool(
        WebhookSubscription.objects.filter(pk=subscription.pk, paused_at__isnull=True).update(
            paused_at=at or timezone.now(), paused_reason=reason[:300]
        )
    )


def resume(subscription: WebhookSubscription) -> int:
    """Resume a paused subscription: the deliveries that waited for it go out now."""
    now = timezone.now()
    with transaction.atomic():
        WebhookSubscription.objects.filter(pk=subscription.pk).update(
            paused_at=None, paused_reason="", failing_since=None
        )
        waiting = list(
            WebhookDelivery.objects.filter(
                subscription=subscription, state=DeliveryState.PAUSED
            ).values_list("pk", flat=True)
        )
        WebhookDelivery.objects.filter(pk__in=waiting).update(
            state=DeliveryState.PENDING, next_attempt_at=now, lease_until=None, lease_token=""
        )
        for pk in waiting:
            deliver_webhook.enqueue(pk)
    return len(waiting)


def redeliver(deliveries: list[WebhookDelivery]) -> int:
    """Send failed (or delivered) deliveries again, with the same event id and body; a pending
    one waiting for its next try (after a 5xx, say) is tried now. One being attempted right now
    (its lease runs), or waiting for a paused webhook, is left as it is."""
    now = timezone.now()
    count = 0
    done = Q(state__in=[DeliveryState.FAILED, DeliveryState.DELIVERED])
    # Staff who fixed their receiver should not wait up to an hour for the back-off.
    waiting = Q(state=DeliveryState.PENDING) & (
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )
    with transaction.atomic():
        for delivery in deliveries:
            if WebhookDelivery.objects.filter(done | waiting, pk=delivery.pk).update(
                state=DeliveryState.PENDING,
                next_attempt_at=now,
                # The retry window starts again: a redelivery is retried like a new event.
                created_at=now,
                lease_until=None,
                lease_token="",
                error="",
            ):
                deliver_webhook.enqueue(delivery.pk)
                count += 1
    return count


def tell_admins(subscription_id: int) -> int:
    """E-mail the account's admins (Manage Lead Post URLs) that a webhook was paused."""
    subscription = (
        WebhookSubscription.objects.select_related("account").filter(pk=subscription_id).first()
    )
    if subscription is None or subscription.paused_at is None:
        return 0
    admins = [
        u.email
        for u in User.objects.filter(account=subscription.account, is_active=True).exclude(email="")
        if u.has_account_permission(Permission.MANAGE_URLS)
    ]
    if not admins:
        return 0
    link = f"{settings.BASE_URL}/staff/webhooks/webhooksubscription/{subscription.pk}/change/"
    body = "\n".join(
        [
            f"A webhook of {subscription.account.name} was paused: {subscription.paused_reason}.",
            "",
            f"URL: {subscription.url}",
            "",
            "Events for it are kept and go out when it is resumed on its page:",
            link,
        ]
    )
    try:
        send_mail(
            # The URL (the subject's text when there is no description) may hold a key of the
            # receiver's or a Lead Post URL: redacted like the body.
            subject=redact_text(" ".join(f"Webhook paused: {subscription}".split()))[:200],
            message=redact_text(body),
            from_email=None,
            recipient_list=admins,
        )
    except Exception:  # the pause stands; the page shows it
        logger.exception("could not e-mail the admins of account %s", subscription.account_id)
        return 0
    return len(admins)


# --- the sweep --------------------------------------------------------------------------------


def sweep_webhooks(now: dt.datetime | None = None) -> int:
    """Nudge deliveries nobody works on (a worker died, a task was lost); an attempt cut off by
    a dead worker is marked so on its row. (New events are the relay's: `relay_events`.)"""
    now = now or timezone.now()
    grace = dt.timedelta(seconds=settings.LEADPOST_SWEEP_GRACE_SECONDS)
    nudged = 0
    stuck = list(
        WebhookDelivery.objects.filter(state=DeliveryState.PENDING)
        .filter(
            Q(lease_until__lt=now) | Q(lease_until__isnull=True, next_attempt_at__lt=now - grace)
        )
        .values_list("pk", "lease_until")[:500]
    )
    for pk, lease_until in stuck:
        with transaction.atomic():
            if WebhookDelivery.objects.filter(
                pk=pk, state=DeliveryState.PENDING, lease_until=lease_until
            ).update(lease_until=None, lease_token="", next_attempt_at=now):
                if lease_until is not None:
                    WebhookAttempt.objects.filter(delivery_id=pk, finished=False).update(
                        finished=True, error="no answer: the worker stopped during the attempt"
                    )
                deliver_webhook.enqueue(pk)
                nudged += 1
    if nudged:
        logger.info("sweep: nudged %d webhook event(s) and deliveries", nudged)
    return nudged
