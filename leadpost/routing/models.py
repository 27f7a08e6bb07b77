"""Lead Routing Rules, agents' routing data and Sales Workflows (SPEC §6)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from leadpost.accounts.models import Account
from leadpost.accounts.tenancy import check_row_of, check_user_of, guard_m2m, saves_any


class AgentProfile(models.Model):
    """What routing needs to know about an agent: licences, whether they take leads, a daily cap."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    licensed_states = models.JSONField(
        default=list, blank=True, help_text='USPS codes, e.g. ["IA", "IL"].'
    )
    receives_leads = models.BooleanField(
        "active for routing", default=True, help_text="Off: Lead Routing Rules skip this agent."
    )
    available = models.BooleanField(
        "available now",
        default=True,
        help_text="Rules that require available agents skip this agent while off.",
    )
    notify_new_leads = models.BooleanField(
        "e-mail me my new leads",
        default=True,
        help_text="An e-mail at once for every lead assigned to this agent (SPEC §12).",
    )
    daily_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most routed leads a day (account's time zone); empty: none.",
    )

    class Meta:
        verbose_name = "agent"

    def __str__(self) -> str:
        return str(self.user)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if saves_any(kwargs.get("update_fields"), "user"):
            self.check_accounts()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        self.check_accounts()

    def check_accounts(self) -> None:
        """Only a member of an account is an agent: routing gives them that account's leads."""
        if self.user_id is None:
            return
        user = self.user
        if user.account_id is None or user.is_operator:
            raise ValidationError(
                {
                    "user": f"“{user}” is not a member of an account: only an account's users are agents."
                },
                code="no_account",
            )


class RoutingRule(models.Model):
    """A ranked rule: conditions a lead must meet, and a pool of agents taking turns.

    `position` is the rotation's place in the weighted pool. It is read and advanced under a row
    lock inside the record's transaction, so concurrent posts neither skip nor double up an agent.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="routing_rules")
    name = models.CharField(max_length=200)
    priority = models.PositiveIntegerField(default=1, help_text="1 is tried first.")
    active = models.BooleanField(default=True)
    states = models.JSONField(default=list, blank=True, help_text='Empty: any. E.g. ["IA"].')
    zip_prefixes = models.JSONField(default=list, blank=True, help_text='E.g. ["522", "523"].')
    lead_sources = models.JSONField(
        default=list, blank=True, help_text="Lead source names (case ignored). Empty: any."
    )
    lead_post_urls = models.ManyToManyField(
        "intake.LeadPostUrl", blank=True, help_text="The vendors' URLs. None selected: any."
    )
    custom_field = models.ForeignKey(
        "records.CustomField", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    custom_value = models.CharField(
        max_length=255, blank=True, help_text="With a custom field: the value it must have."
    )
    require_available = models.BooleanField(
        "agents must be available", default=False, help_text="Skip agents not marked available."
    )
    position = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return f"{self.priority}. {self.name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if saves_any(kwargs.get("update_fields"), "account", "custom_field"):
            self.check_accounts()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        self.check_accounts()

    def check_accounts(self) -> None:
        """The custom field a rule looks at is its own account's (SPEC §10); its Lead Post URLs
        are kept by the guard below, its pool by `PoolMember`."""
        if self.custom_field_id is not None:
            check_row_of(self.account_id, self.custom_field, "custom_field")


class PoolMember(models.Model):
    """An agent in a rule's pool; with weight 2 they get two leads for every one of weight 1."""

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="pool")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    weight = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["rule", "agent"], name="pool_agent_unique")]

    def __str__(self) -> str:
        return f"{self.agent} ×{self.weight}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if saves_any(kwargs.get("update_fields"), "rule", "agent"):
            self.check_accounts()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        self.check_accounts()

    def check_accounts(self) -> None:
        """A pool holds users of the rule's own account (SPEC §10)."""
        # The rule of a new pool row on the admin's page is the page's unsaved rule.
        rule = getattr(self, "rule", None)
        if rule is not None and rule.account_id is not None and self.agent_id is not None:
            check_user_of(rule.account, self.agent, "agent")


class SalesWorkflow(models.Model):
    """Runs on every new Sales Record whose conditions match, once per record (SPEC §6)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="sales_workflows")
    name = models.CharField(max_length=200)
    order = models.PositiveIntegerField(default=1)
    active = models.BooleanField(default=True)
    states = models.JSONField(default=list, blank=True, help_text="Empty: any.")
    lead_sources = models.JSONField(default=list, blank=True, help_text="Empty: any.")
    lead_post_urls = models.ManyToManyField("intake.LeadPostUrl", blank=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


# The Lead Post URLs rules and workflows look at are their own account's (SPEC §10).
guard_m2m(RoutingRule.lead_post_urls)
guard_m2m(SalesWorkflow.lead_post_urls)


class ActionKind(models.TextChoices):
    ROUTE = "route", "Run Lead Routing Rules"
    SET_STATUS = "set_status", "Set status"
    NOTIFY_AGENT = "notify_agent", "E-mail the assigned agent"


class WorkflowAction(models.Model):
    workflow = models.ForeignKey(SalesWorkflow, on_delete=models.CASCADE, related_name="actions")
    order = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=ActionKind.choices)
    status = models.CharField(max_length=255, blank=True, help_text="For 'Set status'.")

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.get_kind_display() + (f": {self.status}" if self.status else "")


class WorkflowRun(models.Model):
    """That a workflow ran on a record: the unique pair makes it run once per record."""

    workflow = models.ForeignKey(SalesWorkflow, on_delete=models.CASCADE, related_name="runs")
    record = models.ForeignKey("records.Record", on_delete=models.CASCADE, related_name="+")
    ran_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "record"], name="workflow_runs_once")
        ]

    def __str__(self) -> str:
        return f"{self.workflow} on {self.record_id}"


class NotificationState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    OFF = "off", "Not sent: the agent turned these e-mails off"
    MOVED = "moved", "Not sent: the record went to another agent first"


class AgentNotification(models.Model):
    """That an agent is told by e-mail of a record assigned to them: once per record and agent.

    This row is the truth (state, tries, last error, shown on the record's page); the background
    task only nudges it, and the worker's sweep finds one whose task was lost.
    """

    record = models.ForeignKey(
        "records.Record", on_delete=models.CASCADE, related_name="agent_notifications"
    )
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(
        max_length=10, choices=NotificationState.choices, default=NotificationState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["record", "agent"], name="agent_notified_once")
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.agent} of record {self.record_id}: {self.state}"
