from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from leadpost.accounts.models import Permission
from leadpost.accounts.staff import AccountScopedAdmin, staff_site
from leadpost.accounts.tenancy import AccountRowsForm
from leadpost.lib.address import USPS_STATE_CODES
from leadpost.routing import views
from leadpost.routing.models import (
    AgentProfile,
    PoolMember,
    RoutingRule,
    SalesWorkflow,
    WorkflowAction,
)


class CodeListField(forms.CharField):
    """A JSON list of short codes edited as "IA, IL" text."""

    def __init__(
        self, *, upper: bool = False, allowed: frozenset[str] | None = None, **kwargs: Any
    ):
        self.upper = upper
        self.allowed = allowed
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return value
        items = [part.strip() for part in str(value or "").replace(";", ",").split(",")]
        items = [item.upper() if self.upper else item for item in items if item]
        if self.allowed is not None:
            wrong = [item for item in items if item not in self.allowed]
            if wrong:
                raise forms.ValidationError(f"Not USPS state codes: {', '.join(wrong)}")
        return list(dict.fromkeys(items))


class RuleForm(AccountRowsForm[RoutingRule]):
    states = CodeListField(
        upper=True, allowed=USPS_STATE_CODES, help_text="E.g. IA, IL. Empty: any."
    )
    zip_prefixes = CodeListField(help_text="E.g. 522, 523. Empty: any.")
    lead_sources = CodeListField(help_text="Lead source names, comma-separated. Empty: any.")

    class Meta:
        model = RoutingRule
        fields = [
            "account",
            "name",
            "priority",
            "active",
            "require_available",
            "states",
            "zip_prefixes",
            "lead_sources",
            "lead_post_urls",
            "custom_field",
            "custom_value",
        ]


class WorkflowForm(AccountRowsForm[SalesWorkflow]):
    states = CodeListField(upper=True, allowed=USPS_STATE_CODES, help_text="Empty: any.")
    lead_sources = CodeListField(help_text="Empty: any.")

    class Meta:
        model = SalesWorkflow
        fields = ["account", "name", "order", "active", "states", "lead_sources", "lead_post_urls"]


class AgentForm(forms.ModelForm[AgentProfile]):
    licensed_states = CodeListField(
        upper=True, allowed=USPS_STATE_CODES, help_text="USPS codes, e.g. IA, IL."
    )

    class Meta:
        model = AgentProfile
        fields = ["user", "licensed_states", "receives_leads", "available", "daily_cap"]


class ScopedInline[M: Any](admin.TabularInline[M, Any]):
    """Inline rows whose choices (agents) are limited to the user's account, like the page's.

    Permissions follow the page's own: staff have security groups, not Django model permissions.
    """

    def _parent(self) -> Any:
        return self.admin_site._registry[self.parent_model]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(self._parent().has_view_permission(request, obj))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(self._parent().has_change_permission(request, obj))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(self._parent().has_change_permission(request, obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(self._parent().has_change_permission(request, obj))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        AccountScopedAdmin._scope_choices(self, db_field, request, kwargs)  # type: ignore[arg-type]
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class PoolInline(ScopedInline[PoolMember]):
    model = PoolMember
    extra = 2
    fields = ["order", "agent", "weight"]


class ActionInline(ScopedInline[WorkflowAction]):
    model = WorkflowAction
    extra = 1
    fields = ["order", "kind", "status"]


class RoutingRuleAdmin(admin.ModelAdmin[RoutingRule]):
    form = RuleForm
    list_display = ["priority", "name", "active", "conditions", "pool_summary", "account"]
    list_display_links = ["name"]
    list_filter = ["active", "account"]
    ordering = ["priority", "id"]
    inlines = [PoolInline]
    fieldsets = (
        (None, {"fields": ("account", "name", "priority", "active", "require_available")}),
        (
            "Conditions (all must hold; empty ones match any lead)",
            {
                "fields": (
                    "states",
                    "zip_prefixes",
                    "lead_sources",
                    "lead_post_urls",
                    "custom_field",
                    "custom_value",
                )
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[RoutingRule]:
        return super().get_queryset(request).prefetch_related("pool__agent", "lead_post_urls")

    @admin.display(description="conditions")
    def conditions(self, rule: RoutingRule) -> str:
        parts = []
        if rule.states:
            parts.append("state " + "/".join(rule.states))
        if rule.zip_prefixes:
            parts.append("zip " + "/".join(f"{p}…" for p in rule.zip_prefixes))
        if rule.lead_sources:
            parts.append("source " + "/".join(rule.lead_sources))
        urls = [u.label for u in rule.lead_post_urls.all()]
        if urls:
            parts.append("via " + "/".join(urls))
        if rule.custom_field_id:
            parts.append(f"custom field = {rule.custom_value}")
        return "; ".join(parts) or "any lead"

    @admin.display(description="pool (weight)")
    def pool_summary(self, rule: RoutingRule) -> str:
        return ", ".join(f"{m.agent} ×{m.weight}" for m in rule.pool.all()) or "—"


class SalesWorkflowAdmin(admin.ModelAdmin[SalesWorkflow]):
    form = WorkflowForm
    list_display = ["order", "name", "active", "actions_summary", "account"]
    list_display_links = ["name"]
    list_filter = ["active", "account"]
    inlines = [ActionInline]
    fields = ["account", "name", "order", "active", "states", "lead_sources", "lead_post_urls"]

    @admin.display(description="actions")
    def actions_summary(self, workflow: SalesWorkflow) -> str:
        return ", then ".join(str(a) for a in workflow.actions.all()) or "—"


class AgentProfileAdmin(admin.ModelAdmin[AgentProfile]):
    form = AgentForm
    list_display = [
        "user",
        "states",
        "receives_leads",
        "available",
        "emails_on",
        "daily_cap",
        "routed_today",
    ]
    list_editable = ["receives_leads", "available", "daily_cap"]
    list_filter = ["receives_leads", "available", "notify_new_leads"]
    search_fields = ["user__first_name", "user__last_name"]
    fields = [
        "user",
        "licensed_states",
        "receives_leads",
        "available",
        "lead_emails",
        "daily_cap",
    ]
    # Shown, not changed here: whether an agent is e-mailed their leads is the agent's own
    # choice, made on their "My lead e-mails" page (SPEC §12: an agent may turn it off).
    readonly_fields = ["lead_emails"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AgentProfile]:
        return super().get_queryset(request).select_related("user__account")

    @admin.display(description="lead e-mails")
    def lead_emails(self, profile: AgentProfile) -> str:
        if profile.pk is None:
            return "on (the agent may turn them off on their “My lead e-mails” page)"
        state = "on" if profile.notify_new_leads else "off"
        return f"{state} (the agent's own choice, on their “My lead e-mails” page)"

    @admin.display(description="lead e-mails", boolean=True)
    def emails_on(self, profile: AgentProfile) -> bool:
        return profile.notify_new_leads

    @admin.display(description="licensed in")
    def states(self, profile: AgentProfile) -> str:
        return ", ".join(profile.licensed_states) or "—"

    @admin.display(description="routed today")
    def routed_today(self, profile: AgentProfile) -> int:
        # "Today" is the account's day, as daily caps count it (routed_on).
        account = profile.user.account
        if account is None:
            return 0
        today = account.local_date(timezone.now())
        return profile.user.serviced_records.filter(routed_on=today).count()


admin.site.register(RoutingRule, RoutingRuleAdmin)
admin.site.register(SalesWorkflow, SalesWorkflowAdmin)
admin.site.register(AgentProfile, AgentProfileAdmin)


# --- Staff pages: managing routing needs Manage Users & Security Groups (SPEC §6) ---


@admin.register(RoutingRule, site=staff_site)
class StaffRoutingRuleAdmin(AccountScopedAdmin[RoutingRule], RoutingRuleAdmin):
    view_needs = change_needs = (Permission.MANAGE_USERS,)


@admin.register(SalesWorkflow, site=staff_site)
class StaffSalesWorkflowAdmin(AccountScopedAdmin[SalesWorkflow], SalesWorkflowAdmin):
    view_needs = change_needs = (Permission.MANAGE_USERS,)


@admin.register(AgentProfile, site=staff_site)
class StaffAgentProfileAdmin(AccountScopedAdmin[AgentProfile], AgentProfileAdmin):
    account_path = "user__account"
    view_needs = change_needs = (Permission.MANAGE_USERS,)


# Every account user's own switch for their lead e-mails (SPEC §12); the e-mail's footer names it.
staff_site.add_page("my-lead-emails/", views.my_lead_emails, "my_lead_emails")
