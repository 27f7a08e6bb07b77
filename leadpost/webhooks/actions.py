"""What staff do to their webhooks (SPEC §12): make one, rotate its secret, test it, redeliver.

The pages call these; each returns facts (a secret shown once, a count), never an HTTP answer.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import unicodedata
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from leadpost.accounts.models import Account, User
from leadpost.lib.fetch import is_private_network, is_public
from leadpost.webhooks import tasks
from leadpost.webhooks.models import (
    TEST_EVENT,
    DeliveryState,
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from leadpost.webhooks.secrets import set_new_secret

URL_MAX_LENGTH = WebhookSubscription._meta.get_field("url").max_length or 2000
PUBLIC_ONLY = (
    "It must be a public address of the internet: addresses of private networks (10.x, "
    "192.168.x, …), of this machine and of the link are refused when events are sent, on every "
    "connection."
)
PRIVATE_ALLOWED = (
    "Your operator allowed this account's webhooks to reach private networks (10.x, 192.168.x, "
    "…); this machine's own and link-local addresses stay refused."
)


def check_webhook_url(value: str, account: Account) -> str:
    """The URL a webhook may be saved with, or a ValidationError that says why not.

    Names are not resolved here (a name's addresses change; the worker checks every connection),
    but what can be refused from the text alone is: another scheme, a user name or password in
    the URL (it would be sent to whoever answers, and logged by them), control characters, an
    address literal that is not public, a port other than 80 and 443 on the public internet.
    """
    if len(value) > URL_MAX_LENGTH:
        raise ValidationError(f"The URL is too long: at most {URL_MAX_LENGTH} characters.")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") or c.isspace() for c in value):
        raise ValidationError("The URL contains spaces or control characters; remove them.")
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("The URL must start with https:// (or http://).")
    if "@" in parts.netloc:
        raise ValidationError(
            "The URL must not hold a user name or password (user:pass@host): every delivery is "
            "signed with the webhook's secret instead."
        )
    host = parts.hostname or ""
    if not host:
        raise ValidationError("The URL has no host name.")
    try:
        port = parts.port
    except ValueError:
        raise ValidationError("The URL's port is not a number from 1 to 65535.") from None
    literal = _address(host)
    loopback_ok = bool(settings.LEADPOST_FETCH_ALLOW_LOOPBACK)  # tests only (settings refuse it)
    if literal is not None and not is_public(literal):
        allowed = (account.webhooks_allow_private and is_private_network(literal)) or (
            loopback_ok and literal.is_loopback
        )
        if not allowed:
            raise ValidationError(f"{host} is not a public address. {PUBLIC_ONLY}")
    if port not in (None, 80, 443) and not (
        account.webhooks_allow_private or (loopback_ok and literal is not None)
    ):
        raise ValidationError(f"Port {port} is not reached: only 80 (http) and 443 (https).")
    return value


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def create_subscription(
    account: Account,
    *,
    url: str,
    events: list[str],
    description: str = "",
    created_by: User | None = None,
) -> tuple[WebhookSubscription, str]:
    """A new webhook and its secret, which is returned this once and never shown again."""
    subscription = WebhookSubscription(
        account=account,
        url=url,
        events=sorted(set(events)),
        description=description,
        created_by=created_by,
    )
    secret = set_new_secret(subscription)
    subscription.save()
    return subscription, secret


def rotate_secret(subscription: WebhookSubscription) -> str:
    """A new secret for the webhook (the old one stops signing at once); returned this once."""
    secret = set_new_secret(subscription)
    subscription.save(update_fields=["secret_encrypted", "secret_hint"])
    return secret


def send_test_event(subscription: WebhookSubscription) -> WebhookEvent:
    """A test event to this one webhook, dispatched by the workers like any other."""
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            account_id=subscription.account_id, type=TEST_EVENT, only_to=subscription
        )
        tasks.dispatch_events.enqueue([event.pk])
    return event


def failed_between(
    subscription: WebhookSubscription, start: dt.date, end: dt.date
) -> list[WebhookDelivery]:
    """The webhook's failed deliveries of events made from `start` to `end` (both included), in
    its account's time zone."""
    zone = subscription.account.tz
    since = dt.datetime.combine(start, dt.time.min, tzinfo=zone)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return list(
        WebhookDelivery.objects.filter(
            subscription=subscription,
            state=DeliveryState.FAILED,
            event__created_at__gte=since,
            event__created_at__lt=until,
        )
    )


def pause_by_staff(subscription: WebhookSubscription, user: User) -> bool:
    when = timezone.localtime(timezone.now(), subscription.account.tz)
    return tasks.pause(subscription, f"paused by {user.get_username()} on {when:%Y-%m-%d %H:%M}")


EVENT_CHOICES = [(t.value, t.label) for t in EventType]


def purge_events(before: dt.datetime, *, batch: int = 2000) -> int:
    """Delete events made before `before` that nothing waits on any more (every delivery
    delivered or failed), with their deliveries and attempts; how many events. Events still
    pending, or waiting for a paused webhook, are kept whatever their age."""
    waiting = WebhookDelivery.objects.filter(
        state__in=[DeliveryState.PENDING, DeliveryState.PAUSED]
    ).values("event_id")
    deleted = 0
    while True:
        ids = list(
            WebhookEvent.objects.filter(created_at__lt=before, dispatched=True)
            .exclude(pk__in=waiting)
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        with transaction.atomic():
            WebhookAttempt.objects.filter(delivery__event_id__in=ids).delete()
            WebhookDelivery.objects.filter(event_id__in=ids).delete()
            deleted += WebhookEvent.objects.filter(pk__in=ids).delete()[0]
