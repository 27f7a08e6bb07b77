"""The pages agency staff use: Django's admin, scoped to the user's own account in one place.

Every staff page is a ModelAdmin derived from `AccountScopedAdmin`, which filters querysets by the
user's account, limits choices of related rows to that account, fills the account in on new rows
and asks the user's security groups (SPEC §10) for each permission. Operators (superusers) see all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse

from leadpost.accounts.logins import ThrottledLogin
from leadpost.accounts.models import MEMBERS, Account, Permission, User
from leadpost.lib.choices import RecordType


def staff_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


class StaffAuthenticationForm(ThrottledLogin, AdminAuthenticationForm):
    """The staff login: membership of an account lets a user in, as `StaffSite.has_permission` says.

    Django's admin login form also requires staff status, which is an operator's alone (see
    `User`): agency users log in here without it. Failures are throttled (SPEC §10).
    """

    def confirm_login_allowed(self, user: Any) -> None:
        AuthenticationForm.confirm_login_allowed(self, user)  # inactive users are refused there
        if not (user.is_superuser or getattr(user, "account_id", None) is not None):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


NOT_SERVED = {"autocomplete", "view_on_site"}


class StaffSite(admin.AdminSite):
    site_header = "Leadpost"
    site_title = "Leadpost"
    index_title = "Your agency's leads"
    index_template = "staff/index.html"
    login_form = StaffAuthenticationForm

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pages: list[tuple[str, Callable[..., HttpResponse], str]] = []

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(
            user.is_active
            and isinstance(user, User)
            and (user.is_superuser or user.account_id is not None)
        )

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        user = request.user
        if isinstance(user, User) and user.is_authenticated:
            context["account"] = user.account
            if user.account is not None:
                context["lead_post_creates"] = LEAD_POST_CREATES[user.account.record_mode]
            context["can_use_utility"] = (
                user.account_id is not None
                and user.has_account_permission(Permission.SALES_ENABLEMENT, Permission.MANAGE_DATA)
            )
            context["can_see_custom_fields"] = user.has_account_permission(Permission.MANAGE_DATA)
            context["can_manage_webhooks"] = user.has_account_permission(Permission.MANAGE_URLS)
        return context

    def get_urls(self) -> list[URLResolver | URLPattern]:
        # Customer pages are a tenancy surface (CONVENTIONS): of the views Django's admin brings,
        # none of ours uses autocompletion or the "view on site" shortcut, which loads any row
        # of any model by its content type and id, so they are not served at all.
        served = [
            pattern
            for pattern in super().get_urls()
            if getattr(pattern, "name", None) not in NOT_SERVED
        ]
        return [
            path(
                "lead-post-utility/",
                self.admin_view(self.lead_post_utility),
                name="lead_post_utility",
            ),
            *(path(route, self.admin_view(view), name=name) for route, view, name in self.pages),
            *served,
        ]

    def add_page(self, route: str, view: Callable[..., HttpResponse], name: str) -> None:
        """A page of another app on the staff site (the app that owns its data registers it)."""
        self.pages.append((route, view, name))

    def forbidden(self, request: HttpRequest, title: str, needed: str) -> HttpResponse:
        """The 403 page: which permission the page needs."""
        context = {**self.each_context(request), "title": title, "needed": needed}
        return TemplateResponse(request, "staff/forbidden.html", context, status=403)

    def password_change(  # type: ignore[override]  # Django's own redirects too, on success
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # No staff page changes an operator's password (SPEC §10): theirs is the operators' admin's.
        if staff_user(request).is_operator:
            return HttpResponseRedirect(reverse("admin:password_change"))
        return super().password_change(request, extra_context)

    def lead_post_utility(self, request: HttpRequest) -> HttpResponse:
        """SPEC §10: one setting per account, for users with Sales Enablement and Manage Data."""
        user = staff_user(request)
        if user.account is None or not user.has_account_permission(
            Permission.SALES_ENABLEMENT, Permission.MANAGE_DATA
        ):
            return TemplateResponse(
                request,
                "staff/forbidden.html",
                {
                    **self.each_context(request),
                    "title": "Lead Post Utility",
                    "needed": "Sales Enablement (Visible) and Manage Data & Custom Fields",
                },
                status=403,
            )
        account: Account = user.account
        form = LeadPostUtilityForm(
            request.POST or None, initial={"record_mode": account.record_mode}
        )
        if request.method == "POST" and form.is_valid():
            account.record_mode = form.cleaned_data["record_mode"]
            account.save(update_fields=["record_mode"])
            urls = account.lead_post_urls.count()
            messages.success(
                request,
                f"Lead Post now creates {LEAD_POST_CREATES[account.record_mode]}: "
                f"all {urls} Lead Post URL(s) of {account.name} switched at once.",
            )
            return HttpResponseRedirect(reverse("staff:lead_post_utility"))
        context = {
            **self.each_context(request),
            "title": "Lead Post Utility",
            "form": form,
            "excluded": [
                "Type",
                "Project Code",
                "Other Lead Source",
                "Business Phone",
                "Lead Agent",
            ],
        }
        return TemplateResponse(request, "staff/lead_post_utility.html", context)


# The Lead Post Utility's words for the record types (SPEC §10).
LEAD_POST_CREATES: dict[str, str] = {
    RecordType.INDIVIDUAL: "Individual Records",
    RecordType.SALES_RECORD: "Sales Enablement Leads (Sales Records)",
}


class LeadPostUtilityForm(forms.Form):
    record_mode = forms.ChoiceField(
        label="Lead Post creates", choices=list(LEAD_POST_CREATES.items())
    )


staff_site = StaffSite(name="staff")


class AccountScopedAdmin[M: models.Model](admin.ModelAdmin[M]):
    """A staff page over one model, showing only the user's account's rows (SPEC §10)."""

    account_path = "account"  # lookup from the model to its Account
    view_needs: tuple[Permission, ...] = ()  # permissions needed to see the page
    change_needs: tuple[Permission, ...] | None = None  # to add/change/delete; None: read-only
    change_form_template = "staff/change_form.html"
    view_on_site = False

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # A row's history lists every edit of it by anyone, operators' in the operators' admin
        # included (one log for both sites), and no staff page needs it.
        raise Http404("Staff pages keep no history.")

    def get_queryset(self, request: HttpRequest) -> QuerySet[M]:
        queryset = super().get_queryset(request)
        user = staff_user(request)
        if user.is_superuser:
            return queryset
        return queryset.filter(**{self.account_path: user.account_id})

    def _allowed(self, request: HttpRequest, needs: tuple[Permission, ...] | None) -> bool:
        user = request.user
        if needs is None or not isinstance(user, User) or not user.is_active:
            return False
        if not user.is_superuser and user.account_id is None:
            return False
        return user.has_account_permission(*needs)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, self.view_needs)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, self.view_needs)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._allowed(request, self.change_needs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, self.change_needs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, self.change_needs)

    def _hides_account(self, request: HttpRequest) -> bool:
        return not staff_user(request).is_superuser and self.account_path == "account"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        return [f for f in fields if f != "account"] if self._hides_account(request) else fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        # Declared fieldsets bypass get_fields: strip the account from them too.
        fieldsets = super().get_fieldsets(request, obj)
        if not self._hides_account(request):
            return fieldsets
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f != "account"]})
            for name, options in fieldsets
        ]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None or not self._hides_account(request):
            return form
        account_id = staff_user(request).account_id

        class InTheAccount(form):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                # A new row is the user's account's from the start, so that the models' checks
                # (SPEC §10: nothing points at another account's rows) see it while validating.
                self.instance.account_id = account_id

        InTheAccount.__name__ = form.__name__
        return InTheAccount

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        return [f for f in fields if f != "account"] if self._hides_account(request) else fields

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = list(super().get_list_display(request))
        return [c for c in columns if c != "account"] if self._hides_account(request) else columns

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        if not staff_user(request).is_superuser:
            # Fix (issue 4 tests): a plain filter on a relation lists every row of the related
            # table, other accounts' included (the Users page listed every account's security
            # groups); offer only the values this account's rows use.
            filters = [
                (f, admin.RelatedOnlyFieldListFilter)
                if isinstance(f, str) and self._is_relation(f)
                else f
                for f in filters
                if f != "account"
            ]
        return filters

    def _is_relation(self, lookup: str) -> bool:
        try:
            return bool(get_fields_from_path(self.model, lookup)[-1].is_relation)
        except (FieldDoesNotExist, NotRelationField):
            return False

    def _scope_choices(self, db_field: Any, request: HttpRequest, kwargs: dict[str, Any]) -> None:
        user = staff_user(request)
        related = db_field.remote_field.model
        queryset = kwargs.get("queryset")
        if queryset is None:
            queryset = related._default_manager.all()
        if related is User:
            # Agents, pool members, fallback agents: never an operator, whoever looks.
            queryset = queryset.filter(MEMBERS)
        if not user.is_superuser:
            names = {f.name for f in related._meta.get_fields()}
            if "account" in names:
                queryset = queryset.filter(account_id=user.account_id)
            elif related is Account:
                queryset = queryset.filter(pk=user.account_id or 0)
        kwargs["queryset"] = queryset

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        user = staff_user(request)
        if not change and self.account_path == "account" and not user.is_superuser:
            obj.account_id = user.account_id
        super().save_model(request, obj, form, change)
