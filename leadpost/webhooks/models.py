"""Webhooks (SPEC §12): an account's subscriptions, the events its records make, and each
delivery of an event to a subscription with every attempt at it.

An event is written in the same transaction as what it reports (the outbox): a 200 to a vendor
always has its `record.created`, and a crash loses none. The delivery row is the truth of where an
event stands for one subscription (state, attempts, lease, next try); tasks only nudge it, and the
worker's sweep finds a delivery or an event whose task was lost.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from leadpost.accounts.models import Account


class EventType(models.TextChoices):
    RECORD_CREATED = "record.created", "record.created: a post made a new record"
    RECORD_ASSIGNED = "record.assigned", "record.assigned: a record got an agent, or another one"
    ATTACHMENT_STORED = "attachment.stored", "attachment.stored: a URL attachment was downloaded"
    ATTACHMENT_FAILED = "attachment.failed", "attachment.failed: a URL attachment could not be"
    # Staff returned a record to its vendor (SPEC §14); an undo sends no event of its own.
    RECORD_RETURNED = "record.returned", "record.returned: staff returned a record to its vendor"


# Sent by "Send a test event" only; no subscription chooses it.
TEST_EVENT = "test"


class WebhookSubscription(models.Model):
    """A URL of the agency's own systems that receives the account's events, signed with its
    own secret. Paused, it receives nothing, but its deliveries wait for it (nothing is lost)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(
        "URL",
        max_length=2000,
        help_text="Where events are POSTed, e.g. https://crm.example.com/hooks/leadpost",
    )
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The event types sent to this URL.")
    # Encrypted (lib/encryption): the secret signs every delivery, so it must be readable here,
    # but never shown again after it is made.
    secret_encrypted = models.TextField(editable=False)
    secret_hint = models.CharField(max_length=12, editable=False)
    paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    paused_reason = models.CharField(max_length=300, blank=True, editable=False)
    # Since when every attempt failed (None after a success): 24 hours of it pause the subscription.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = "webhook"
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description or self.url

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


class WebhookEvent(models.Model):
    """Something that happened to a record, to be sent to every subscription of its type.

    `body` is the exact JSON sent, made once when the event is first dispatched: every delivery
    and every retry of an event carries the same bytes, so a receiver's de-duplication by id and
    its signature check agree.
    """

    # A lead's events are written under its transaction's write lock (SQLite has one for the
    # whole database): every index is pages more to write there, so events are indexed only by
    # their key and, while new, by the relay's partial index. Nothing looks them up by account,
    # record or attachment but a deletion of those (rare, and fine as a scan).
    uid = models.UUIDField(default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    type = models.CharField(max_length=40)
    record = models.ForeignKey(
        "records.Record",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    attachment = models.ForeignKey(
        "records.Attachment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    # A test event goes to the one subscription it was sent from.
    only_to = models.ForeignKey(
        WebhookSubscription,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    dispatched = models.BooleanField(default=False)
    body = models.TextField(blank=True)

    class Meta:
        indexes = [
            # The sweep's look-up of events whose dispatch task was lost: few rows, ever.
            models.Index(
                fields=["created_at"], condition=Q(dispatched=False), name="webhook_undispatched"
            )
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"

    @property
    def public_id(self) -> str:
        return f"evt_{self.uid.hex}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    PAUSED = "paused", "Waiting: the webhook is paused"


class WebhookDelivery(models.Model):
    """One event on its way to one subscription."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker holds the delivery while it tries; a worker killed mid-attempt leaves the lease to
    # run out, and the sweep then tries again (at least once: the receiver de-duplicates by id).
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "subscription"], name="webhook_delivery_once")
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["subscription", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.subscription_id}: {self.state}"


class WebhookAttempt(models.Model):
    """One try at a delivery: when, the answer's status, how long it took, its first KiB."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    started_at = models.DateTimeField(default=timezone.now)
    # None: no HTTP answer (refused, network error, time-out, or the worker stopped mid-attempt).
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    response_head = models.TextField(blank=True)
    finished = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"attempt at {self.started_at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error}"
