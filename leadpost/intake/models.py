"""Lead Post URLs and the log of every post made to them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from leadpost.accounts.models import Account
from leadpost.lib.choices import RecordType
from leadpost.lib.tokens import TOKEN_CHARS, hash_token, issue_token


class LeadPostUrlQuerySet(models.QuerySet["LeadPostUrl"]):
    """What operators do to several URLs at once (the admin's actions, the command line)."""

    def disable(self) -> int:
        """Disable the enabled URLs among these; how many were. Their next post gets the 404 of
        an unknown URL (SPEC §3): a post reads `enabled` fresh (intake/config.py)."""
        return self.filter(enabled=True).update(enabled=False, disabled_at=timezone.now())

    def enable(self) -> int:
        """Enable the disabled URLs among these; how many were."""
        return self.filter(enabled=False).update(enabled=True, disabled_at=None)

    def with_post_counts(self) -> LeadPostUrlQuerySet:
        """Each URL with `posts_<result>` for every PostResult and `last_post_at`, in one query.

        Read from the post log (see LeadPostUrl's docstring), so they cover only the posts it still
        keeps (LEADPOST_POST_LOG_RETENTION_DAYS).
        """
        counts: dict[str, Any] = {
            f"posts_{result}": Count("posts", filter=Q(posts__result=result))
            for result in PostResult
        }
        return self.annotate(**counts, last_post_at=Max("posts__received_at"))


# The largest cap a form takes: beyond any vendor's volume, well inside a 32-bit counter.
MAX_CAP = 100_000_000
# Returns (SPEC §14): a week unless the agency agreed otherwise with the vendor; a year at most,
# beyond which no vendor takes a lead back.
DEFAULT_RETURN_WINDOW_DAYS = 7
MAX_RETURN_WINDOW_DAYS = 365


class LeadPostUrl(models.Model):
    """A secret URL one vendor posts an account's leads to (SPEC §1).

    The token is stored only as a hash and shown once. Counts by outcome and the last use are read
    from the post log rather than kept here: a counter on this row would be updated by every post
    and serialise concurrent posts to one URL on its row lock.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="lead_post_urls")
    label = models.CharField(max_length=200, help_text="The vendor's name, e.g. Datalot.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False)
    enabled = models.BooleanField(default=True)
    default_lead_source = models.CharField(
        max_length=255,
        blank=True,
        help_text="Lead source given to posts that name none (matched like a posted leadSource).",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Posts per minute before answering 429; empty uses LEADPOST_RATE_LIMIT_PER_MINUTE"
        " (0 there means no limit).",
    )
    price_per_lead = models.DecimalField(
        max_digits=9,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="What the agency pays this vendor per created lead, in dollars; the vendor "
        "performance pages show the spend from it. Empty: no spend shown.",
    )
    cap_per_day = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_CAP)],
        help_text="Records this URL may create per day, in the account's time zone; posts over it "
        "are answered 429 over_cap and make no record. Empty: no cap.",
    )
    cap_per_month = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_CAP)],
        help_text="Records this URL may create per calendar month, in the account's time zone. "
        "Empty: no cap.",
    )
    return_window_days = models.PositiveSmallIntegerField(
        default=DEFAULT_RETURN_WINDOW_DAYS,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_RETURN_WINDOW_DAYS)],
        help_text="Days after a record's creation during which staff may return it to this "
        f"vendor (0 to {MAX_RETURN_WINDOW_DAYS}); 0: this vendor takes no returns.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    disabled_at = models.DateTimeField(null=True, blank=True)

    objects = LeadPostUrlQuerySet.as_manager()

    class Meta:
        verbose_name = "Lead Post URL"
        ordering = ["account", "label", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cap_per_day__isnull=True) | Q(cap_per_day__gte=1),
                name="lead_post_url_cap_per_day_positive",
            ),
            models.CheckConstraint(
                condition=Q(cap_per_month__isnull=True) | Q(cap_per_month__gte=1),
                name="lead_post_url_cap_per_month_positive",
            ),
            models.CheckConstraint(
                condition=Q(return_window_days__lte=MAX_RETURN_WINDOW_DAYS),
                name="lead_post_url_return_window_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.prefix}…)"

    @classmethod
    def issue(
        cls, account: Account, label: str, default_lead_source: str = ""
    ) -> tuple[LeadPostUrl, str]:
        """Create a URL; its token is returned here and never again (SPEC §1)."""
        secret = issue_token()
        row = cls.objects.create(
            account=account,
            label=label,
            token_hash=secret.hash,
            prefix=secret.prefix,
            default_lead_source=default_lead_source,
        )
        return row, secret.token

    def rotate(self) -> str:
        """Give this URL a new token, returned here and never again; the old one stops working
        when this commits. The row stays: its label, settings, rate window and post log with it.
        Saving it moves the account's config_version, so no process keeps a view of the old one."""
        secret = issue_token()
        self.token_hash, self.prefix = secret.hash, secret.prefix
        with transaction.atomic():  # the new hash and the version move together
            self.save(update_fields=["token_hash", "prefix"])
        return secret.token

    @staticmethod
    def full_url(token: str) -> str:
        return f"{settings.BASE_URL}/leadpost/{token}"

    @property
    def effective_rate_limit(self) -> int:
        if self.rate_limit_per_minute is not None:
            return self.rate_limit_per_minute
        limit: int = settings.LEADPOST_RATE_LIMIT_PER_MINUTE
        return limit


class PostResult(models.TextChoices):
    CREATED = "created", "Created"
    DUPLICATE = "duplicate", "Duplicate"
    REJECTED = "rejected", "Rejected"
    TEST = "test", "Test (dry run)"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", "Unsupported content type"
    TOO_LARGE = "too_large", "Body too large"
    RATE_LIMITED = "rate_limited", "Rate limited"
    METHOD_NOT_ALLOWED = "method_not_allowed", "Not a POST"
    CUT_SHORT = "cut_short", "Body cut short or late"
    UNAVAILABLE = "unavailable", "Not stored, service busy"
    OVER_CAP = "over_cap", "Over cap"


class PostLog(models.Model):
    """One post to a known URL, whatever its outcome (SPEC §9).

    `params` holds what was sent with secrets redacted (SSN masked, base64 bodies replaced by their
    size and SHA-256), so a dropped value can still be recovered by staff.
    """

    # Both indexed by the composite indexes below that begin with them, not on their own: every
    # index is one more write on every post (bench/README.md).
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="post_logs", db_index=False
    )
    lead_post_url = models.ForeignKey(
        LeadPostUrl, on_delete=models.CASCADE, related_name="posts", db_index=False
    )
    received_at = models.DateTimeField(default=timezone.now)
    dry_run = models.BooleanField(default=False)
    # What the account's posts created when this one came (the Lead Post Utility, SPEC §10):
    # who may read the entry depends on it, whether or not a record was made.
    record_mode = models.CharField(
        max_length=20, choices=RecordType.choices, default=RecordType.INDIVIDUAL
    )
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    status_code = models.PositiveSmallIntegerField()
    result = models.CharField(max_length=32, choices=PostResult.choices)
    # Microseconds from the request's arrival to this row's write, just before the answer (the
    # commit and the answer's bytes are not in it); the vendor performance pages' answer times.
    answer_us = models.PositiveBigIntegerField(null=True, blank=True)
    record = models.ForeignKey(
        "records.Record", null=True, blank=True, on_delete=models.SET_NULL, related_name="posts"
    )
    warnings = models.JSONField(default=list, blank=True)
    errors = models.JSONField(default=list, blank=True)
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "post log entry"
        verbose_name_plural = "post log"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["account", "-received_at"]),
            models.Index(fields=["lead_post_url", "result"]),
            models.Index(fields=["received_at"]),
        ]

    def __str__(self) -> str:
        return f"Post {self.pk} ({self.result})"


class RateWindow(models.Model):
    """Posts counted per URL per minute, shared by every app server through the database."""

    lead_post_url = models.ForeignKey(LeadPostUrl, on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["lead_post_url", "window_start"], name="rate_window_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.lead_post_url_id} @ {self.window_start:%H:%M}: {self.count}"


class CapPeriod(models.TextChoices):
    DAY = "day", "Day"
    MONTH = "month", "Month"


class CapCount(models.Model):
    """Records a capped URL created in one day or month of its account's time zone (SPEC §14).

    Counted in the record's own transaction (intake/caps.py), so a post rolled back counts nothing
    and concurrent posts cannot pass the cap; only URLs with a cap have rows.
    """

    # Indexed by the unique constraint that begins with it: one index less to write per post.
    lead_post_url = models.ForeignKey(
        LeadPostUrl, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    period = models.CharField(max_length=5, choices=CapPeriod.choices)
    # The period's first local day: the day itself, or the first of the month.
    period_start = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["lead_post_url", "period", "period_start"], name="cap_count_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.lead_post_url_id} {self.period} {self.period_start}: {self.count}"


class GuideLink(models.Model):
    """A shared link to one Lead Post URL's vendor guide (issue 15), opened without logging in.

    A capability URL of its own: a random token stored only as its hash (lib/tokens.py), shown
    once when made, unrelated to the posting token, which the shared guide never holds. At most
    one live link per URL (the partial unique constraint): sharing again revokes the previous
    link, so "who can read this guide" is always one link the agency can see and revoke.
    """

    lead_post_url = models.ForeignKey(
        LeadPostUrl, on_delete=models.CASCADE, related_name="guide_links"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["lead_post_url"],
                condition=Q(revoked_at__isnull=True),
                name="guide_link_one_live_per_url",
            )
        ]

    def __str__(self) -> str:
        return f"Guide link {self.prefix}… of {self.lead_post_url_id}"

    @classmethod
    def share(cls, url: LeadPostUrl, by: Any = None) -> tuple[GuideLink, str]:
        """A new link to `url`'s guide, revoking the live one; its token is returned here only."""
        secret = issue_token()
        with transaction.atomic():
            # The URL's row lock serialises two admins sharing at once: the second revokes the
            # first's link instead of failing on the one-live-link constraint.
            LeadPostUrl.objects.select_for_update().filter(pk=url.pk).first()
            cls.revoke_all(url)
            link = cls.objects.create(
                lead_post_url=url, token_hash=secret.hash, prefix=secret.prefix, created_by=by
            )
        return link, secret.token

    @classmethod
    def revoke_all(cls, url: LeadPostUrl) -> int:
        """Revoke `url`'s live link, if any; how many were revoked (0 or 1)."""
        return cls.objects.filter(lead_post_url=url, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )

    @classmethod
    def live(cls, url: LeadPostUrl) -> GuideLink | None:
        return cls.objects.filter(lead_post_url=url, revoked_at__isnull=True).first()

    @classmethod
    def find(cls, token: str) -> GuideLink | None:
        """The live link with this token, or None (unknown and revoked alike)."""
        if len(token) != TOKEN_CHARS:
            return None  # no hashing of whatever length a client sends
        return (
            cls.objects.select_related("lead_post_url__account")
            .filter(token_hash=hash_token(token), revoked_at__isnull=True)
            .first()
        )
