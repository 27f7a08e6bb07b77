"""Agencies (accounts), their staff (users) and the API tokens other systems read records with."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from leadpost.accounts.tenancy import check_user_of, guard_m2m, saves_any
from leadpost.lib.choices import RecordType
from leadpost.lib.tokens import issue_token

# A year: longer windows would flag a person who comes back as a new lead next season.
MAX_DUPLICATE_WINDOW_DAYS = 365


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. America/Chicago).")


class Account(models.Model):
    """One insurance agency. Everything an agency owns carries its account (SPEC, 'account')."""

    name = models.CharField(max_length=200)
    time_zone = models.CharField(
        max_length=64, default="America/Chicago", validators=[validate_time_zone]
    )
    # The Lead Post Utility (SPEC §10): read on every post, so a switch applies to every URL at once.
    record_mode = models.CharField(
        "Lead Post creates",
        max_length=20,
        choices=RecordType.choices,
        default=RecordType.INDIVIDUAL,
    )
    # Sales Workflows and "Auto" routing are premium workflow actions (SPEC §6); operators set it.
    premium_workflows = models.BooleanField("premium workflow actions", default=False)
    # Where "Auto" leads go when no Lead Routing Rule has an eligible agent; empty: unassigned.
    fallback_agent = models.ForeignKey(
        "User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Operators only: webhooks of this account may reach private networks (an agency's CRM on its
    # own network, SPEC §12); loopback and link-local addresses stay refused.
    webhooks_allow_private = models.BooleanField(
        "webhooks may reach private networks",
        default=False,
        help_text="Operators only. Lets this account's webhooks post to 10/8, 172.16/12, "
        "192.168/16, 100.64/10 and fc00::/7, on any port.",
    )
    # Cross-vendor duplicates (SPEC §14): a new record is flagged when a record of this account
    # made within this many days through another Lead Post URL shares a phone, e-mail or SSN.
    # 0 turns the check off (and its look-up on every post with it).
    duplicate_window_days = models.PositiveSmallIntegerField(
        "duplicate window (days)",
        default=30,
        validators=[MaxValueValidator(MAX_DUPLICATE_WINDOW_DAYS)],
        help_text="A new lead whose phone, e-mail or SSN matches a lead of another Lead Post URL "
        "made within this many days is flagged as a possible duplicate. 0 turns it off.",
    )
    # SPEC §14: the agency's TrustedForm API key, encrypted (lib/encryption.encrypt_secret); empty
    # when none. Never shown back on a page: only whether it is set.
    trustedform_api_key = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    # Moves on every change to what posts read about the account (its value lists, users, groups,
    # custom fields, Lead Post URLs, itself): every post reads it with its URL, and throws away
    # what its process kept of the account when it moved (intake/config.py).
    config_version = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if saves_any(kwargs.get("update_fields"), "fallback_agent"):
            self.check_accounts()
        if self.pk is not None and not self._state.adding and kwargs.get("update_fields") is None:
            # Never written back from a copy loaded earlier: that would move the version back
            # to one a process may still hold a view of. Only `bump_config_version` moves it.
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name != "config_version"
            ]
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        self.check_accounts()

    def check_accounts(self) -> None:
        """The fallback agent is one of the account's own users (SPEC §10)."""
        if self.fallback_agent_id is not None:
            check_user_of(self, self.fallback_agent, "fallback_agent")

    @property
    def tz(self) -> dt.tzinfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def local_date(self, moment: dt.datetime) -> dt.date:
        """The calendar day `moment` falls on in the agency's time zone (SPEC §5 leadDate)."""
        return moment.astimezone(self.tz).date()


class Permission(models.TextChoices):
    """What a security group grants (SPEC §10); a user has the union of their groups'."""

    SALES_ENABLEMENT = "sales_enablement", "Sales Enablement: Visible"
    MANAGE_DATA = "manage_data", "Manage Data & Custom Fields"
    MANAGE_URLS = "manage_urls", "Manage Lead Post URLs"
    VIEW_POST_LOG = "view_post_log", "View Lead Post Log"
    MANAGE_USERS = "manage_users", "Manage Users & Security Groups"


class SecurityGroup(models.Model):
    """A named set of permissions within one account (SPEC §10)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="security_groups")
    name = models.CharField(max_length=100)
    sales_enablement_visible = models.BooleanField(
        "Sales Enablement", default=False, help_text="Visible when checked, Hidden otherwise."
    )
    manage_data = models.BooleanField("Manage Data & Custom Fields", default=False)
    manage_urls = models.BooleanField("Manage Lead Post URLs", default=False)
    view_post_log = models.BooleanField("View Lead Post Log", default=False)
    manage_users = models.BooleanField("Manage Users & Security Groups", default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="security_group_name_unique")
        ]

    def __str__(self) -> str:
        return self.name

    def granted(self) -> set[Permission]:
        flags = {
            Permission.SALES_ENABLEMENT: self.sales_enablement_visible,
            Permission.MANAGE_DATA: self.manage_data,
            Permission.MANAGE_URLS: self.manage_urls,
            Permission.VIEW_POST_LOG: self.view_post_log,
            Permission.MANAGE_USERS: self.manage_users,
        }
        return {permission for permission, on in flags.items() if on}


OPERATOR_NOT_A_MEMBER = (
    "An operator (superuser or staff status) is never a member of an account: leave the account "
    "empty, or take away superuser and staff status."
)


# Users of accounts, never an operator: whom staff pages may show or offer (SPEC §10).
MEMBERS = Q(account__isnull=False, is_superuser=False, is_staff=False)


class Users(UserManager["User"]):
    def members(self) -> models.QuerySet[User]:
        return self.filter(MEMBERS)


class User(AbstractUser):
    """A member of an account's staff; an agent is a user records can be assigned to.

    Operators are superusers with no account (SPEC §10). Staff status is the key to the operators'
    admin, so it too is an operator's alone: a member of an account has neither flag, and the
    database refuses the mix. Agent matching (SPEC §6) uses first and last name exactly, among the
    active users of the account.
    """

    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    security_groups = models.ManyToManyField(SecurityGroup, blank=True, related_name="members")

    objects: ClassVar[Users] = Users()

    class Meta:
        indexes = [models.Index(fields=["account", "last_name", "first_name"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(account__isnull=True) | Q(is_superuser=False, is_staff=False),
                name="operator_has_no_account",
                violation_error_message=OPERATOR_NOT_A_MEMBER,
            )
        ]

    def __str__(self) -> str:
        full = self.get_full_name()
        return full or self.username

    @property
    def is_operator(self) -> bool:
        return self.is_superuser or self.is_staff

    def clean(self) -> None:
        super().clean()
        if self.is_operator and self.account_id is not None:
            # On the account field: the operators' admin shows it there, and Django then skips
            # the same check by the database constraint instead of saying it twice.
            raise ValidationError({"account": OPERATOR_NOT_A_MEMBER})

    def account_permissions(self) -> frozenset[Permission]:
        """The union of the user's security groups' permissions; operators have them all.

        Cached on the instance: pages ask several times per request.
        """
        cached: frozenset[Permission] | None = getattr(self, "_account_permissions", None)
        if cached is None:
            if self.is_superuser:
                cached = frozenset(Permission)
            elif not self.is_active or self.account_id is None:
                cached = frozenset()
            else:
                granted: set[Permission] = set()
                for group in self.security_groups.filter(account_id=self.account_id):
                    granted |= group.granted()
                cached = frozenset(granted)
            self._account_permissions = cached
        return cached

    def has_account_permission(self, *needed: Permission) -> bool:
        return set(needed) <= self.account_permissions()


# A user's security groups are their own account's (SPEC §10), whoever links them.
guard_m2m(User.security_groups)


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def revoke(self) -> int:
        """Revoke the live tokens among these; how many were. The read API looks a token up on
        every request, so the next one with it gets 401."""
        return self.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


class ApiToken(models.Model):
    """A bearer token for the read API (SPEC §11), scoped to one account, stored only as a hash."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_tokens")
    label = models.CharField(max_length=200, blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, so staff can tell tokens apart without the secret.
    prefix = models.CharField(max_length=8, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.label or 'API token'})"

    @classmethod
    def issue(cls, account: Account, label: str = "") -> tuple[ApiToken, str]:
        """Create a token; the clear value is returned here and never again."""
        secret = issue_token()
        row = cls.objects.create(
            account=account, label=label, token_hash=secret.hash, prefix=secret.prefix
        )
        return row, secret.token


class LoginScope(models.TextChoices):
    USER = "user", "user name"
    ADDRESS = "address", "client address"


class LoginFailure(models.Model):
    """Failed logins of one user name or one client address in one throttling window (SPEC §10).

    A window starts at the first failure after the last one ended. A user name is kept only as a
    keyed hash: people type their password into the user name box, and it must not be stored in
    clear. Addresses are kept as they are, as the post log keeps them.
    """

    scope = models.CharField(max_length=10, choices=LoginScope.choices)
    key = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "key", "window_start"], name="login_failure_window_unique"
            )
        ]
        indexes = [models.Index(fields=["window_start"])]

    def __str__(self) -> str:
        return f"{self.failures} failed login(s) by {self.get_scope_display()} since {self.window_start}"
