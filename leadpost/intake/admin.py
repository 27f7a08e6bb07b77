from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html

from leadpost.accounts.models import Permission, User
from leadpost.accounts.staff import AccountScopedAdmin, staff_site
from leadpost.intake import guide_views
from leadpost.intake.models import (
    DEFAULT_RETURN_WINDOW_DAYS,
    MAX_RETURN_WINDOW_DAYS,
    GuideLink,
    LeadPostUrl,
    LeadPostUrlQuerySet,
    PostLog,
)
from leadpost.records.models import RecordType
from leadpost.vendors.views import url_summary


class LeadPostUrlForm(forms.ModelForm[LeadPostUrl]):
    # Empty means the default, not an error; a form of before the field (an open tab, a script)
    # still saves, keeping the URL's window.
    return_window_days = forms.IntegerField(
        label="Return window (days)",
        required=False,
        min_value=0,
        max_value=MAX_RETURN_WINDOW_DAYS,
        help_text="Days after a record's creation during which staff may return it to this "
        f"vendor, 0 to {MAX_RETURN_WINDOW_DAYS}; 0: this vendor takes no returns. Empty: "
        f"{DEFAULT_RETURN_WINDOW_DAYS}.",
    )

    class Meta:
        model = LeadPostUrl
        fields = ["return_window_days"]  # the admin adds the rest of its fields

    def clean_return_window_days(self) -> int:
        if "return_window_days" not in self.data:
            return self.instance.return_window_days
        days: int | None = self.cleaned_data["return_window_days"]
        return DEFAULT_RETURN_WINDOW_DAYS if days is None else days


@admin.register(LeadPostUrl)
class LeadPostUrlAdmin(admin.ModelAdmin[LeadPostUrl]):
    form = LeadPostUrlForm
    list_display = [
        "label",
        "account",
        "prefix",
        "enabled",
        "created_count",
        "duplicate_count",
        "rejected_count",
        "last_used",
        "created_at",
    ]
    list_filter = ["enabled", "account"]
    search_fields = ["label", "account__name", "prefix"]
    fields = [
        "account",
        "label",
        "enabled",
        "default_lead_source",
        "rate_limit_per_minute",
        "price_per_lead",
        "cap_per_day",
        "cap_per_month",
        "return_window_days",
        "prefix",
        "created_at",
        "disabled_at",
    ]
    readonly_fields = ["prefix", "created_at", "disabled_at"]
    actions = ["disable", "enable"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[LeadPostUrl]:
        # Counts and last use come from the post log (see LeadPostUrl's docstring), in one query.
        queryset = cast(LeadPostUrlQuerySet, super().get_queryset(request))
        return queryset.select_related("account").with_post_counts()

    @admin.display(description="created", ordering="posts_created")
    def created_count(self, obj: Any) -> int:
        return int(obj.posts_created)

    @admin.display(description="duplicates", ordering="posts_duplicate")
    def duplicate_count(self, obj: Any) -> int:
        return int(obj.posts_duplicate)

    @admin.display(description="rejected", ordering="posts_rejected")
    def rejected_count(self, obj: Any) -> int:
        return int(obj.posts_rejected)

    @admin.display(description="last used", ordering="last_post_at")
    def last_used(self, obj: Any) -> Any:
        return obj.last_post_at

    def get_readonly_fields(
        self, request: HttpRequest, obj: LeadPostUrl | None = None
    ) -> list[str]:
        return [*self.readonly_fields, "account"] if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: LeadPostUrl, form: Any, change: bool) -> None:
        if change:
            if not obj.enabled and obj.disabled_at is None:
                obj.disabled_at = timezone.now()
            elif obj.enabled:
                obj.disabled_at = None
            super().save_model(request, obj, form, change)
            return
        row, token = LeadPostUrl.issue(obj.account, obj.label, obj.default_lead_source)
        settings = [
            "rate_limit_per_minute",
            "enabled",
            "price_per_lead",
            "cap_per_day",
            "cap_per_month",
            "return_window_days",
        ]
        if any(getattr(obj, name) != getattr(row, name) for name in settings):
            for name in settings:
                setattr(row, name, getattr(obj, name))
            row.save(update_fields=settings)
        obj.__dict__.update(row.__dict__)
        messages.warning(
            request,
            format_html(
                "Lead Post URL for {} / {} — shown once, copy it now and give it to the vendor: "
                "<code>{}</code>",
                obj.account,
                obj.label,
                LeadPostUrl.full_url(token),
            ),
        )

    @admin.action(description="Disable selected URLs (posts get 404)")
    def disable(self, request: HttpRequest, queryset: LeadPostUrlQuerySet) -> None:
        count = queryset.disable()
        messages.success(request, f"Disabled {count} URL(s).")

    @admin.action(description="Enable selected URLs")
    def enable(self, request: HttpRequest, queryset: LeadPostUrlQuerySet) -> None:
        count = queryset.enable()
        messages.success(request, f"Enabled {count} URL(s).")


@admin.register(PostLog)
class PostLogAdmin(admin.ModelAdmin[PostLog]):
    list_display = [
        "id",
        "received_at",
        "account",
        "lead_post_url",
        "status_code",
        "result",
        "dry_run",
        "record",
        "client_ip",
    ]
    list_filter = ["result", "status_code", "dry_run", "account", "received_at"]
    search_fields = ["=id", "=record__id", "client_ip"]
    list_select_related = ["account", "lead_post_url", "record"]
    date_hierarchy = "received_at"
    fields = readonly_fields = (
        "received_at",
        "account",
        "lead_post_url",
        "client_ip",
        "user_agent",
        "status_code",
        "result",
        "dry_run",
        "record",
        "pretty_warnings",
        "pretty_errors",
        "pretty_params",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PostLog | None = None) -> bool:
        return False

    @staticmethod
    def _pre(value: Any) -> str:
        return format_html(
            "<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(value, indent=2)
        )

    @admin.display(description="warnings")
    def pretty_warnings(self, obj: PostLog) -> str:
        return self._pre(obj.warnings)

    @admin.display(description="errors")
    def pretty_errors(self, obj: PostLog) -> str:
        return self._pre(obj.errors)

    @admin.display(description="parameters (redacted)")
    def pretty_params(self, obj: PostLog) -> str:
        return self._pre(obj.params)


# --- Staff pages (scoped to the user's account; see accounts/staff.py) ---


@admin.register(LeadPostUrl, site=staff_site)
class StaffLeadPostUrlAdmin(AccountScopedAdmin[LeadPostUrl], LeadPostUrlAdmin):
    view_needs = change_needs = (Permission.MANAGE_URLS,)
    # The vendors' summary template, with the vendor's guide box (intake/guide_views.py).
    change_form_template = "staff/intake/leadposturl_change_form.html"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The vendor's last 7 days above the form, for users who may read them (SPEC §13).
        summary = url_summary(request, object_id) if request.method == "GET" else {}
        return super().change_view(
            request,
            object_id,
            form_url,
            {**(extra_context or {}), **summary, **self.guide_context(request, object_id)},
        )

    def guide_context(self, request: HttpRequest, object_id: str) -> dict[str, Any]:
        """The guide box's links and the shared link's state (issue 15), for this account's URL."""
        url = self.get_object(request, object_id)  # scoped to the user's account
        if url is None:
            return {}
        return {"guide_url_id": url.pk, "guide_live_link": GuideLink.live(url)}

    def has_delete_permission(self, request: HttpRequest, obj: LeadPostUrl | None = None) -> bool:
        return False  # disable instead: the post log keeps pointing at the URL


@admin.register(PostLog, site=staff_site)
class StaffPostLogAdmin(AccountScopedAdmin[PostLog], PostLogAdmin):
    view_needs = (Permission.VIEW_POST_LOG,)
    change_needs = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[PostLog]:
        queryset = super().get_queryset(request)
        user = request.user
        # A post made in Sales Record mode carries the same lead data as a Sales Record, which
        # only users who see Sales Enablement may read: dry runs, rejected and refused posts
        # included, which have no record to tell (SPEC §10).
        if not (
            isinstance(user, User) and user.has_account_permission(Permission.SALES_ENABLEMENT)
        ):
            queryset = queryset.exclude(record_mode=RecordType.SALES_RECORD).exclude(
                record__record_type=RecordType.SALES_RECORD
            )
        return queryset

    list_filter = [
        "result",
        "status_code",
        "dry_run",
        ("lead_post_url", admin.RelatedOnlyFieldListFilter),
        "received_at",
    ]


# The vendor's guide pages (issue 15), on the staff site beside the URL's page.
staff_site.add_page("lead-post-urls/<str:url_id>/guide/", guide_views.staff_guide, "url_guide")
staff_site.add_page(
    "lead-post-urls/<str:url_id>/guide/print/", guide_views.staff_guide_print, "url_guide_print"
)
staff_site.add_page(
    "lead-post-urls/<str:url_id>/guide/share/", guide_views.share_guide, "url_guide_share"
)
staff_site.add_page(
    "lead-post-urls/<str:url_id>/guide/revoke/", guide_views.revoke_guide, "url_guide_revoke"
)
