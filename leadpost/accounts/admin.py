from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.http import HttpRequest

from leadpost.accounts.actions import AGENTS, create_default_groups, join_groups
from leadpost.accounts.logins import ThrottledLogin
from leadpost.accounts.models import (
    MEMBERS,
    Account,
    ApiToken,
    ApiTokenQuerySet,
    Permission,
    SecurityGroup,
    User,
)
from leadpost.accounts.staff import AccountScopedAdmin, staff_site, staff_user
from leadpost.accounts.tenancy import AccountRowsForm
from leadpost.lib.encryption import encrypt_secret


class UserForm(AccountRowsForm[User], UserChangeForm[User]):
    """A user's page: their security groups are their own account's (SPEC §10)."""


class NewUserForm(AccountRowsForm[User], AdminUserCreationForm[User]):
    """A new user, whose password passes the validators and whose groups are their account's."""


class OperatorAuthenticationForm(ThrottledLogin, AdminAuthenticationForm):
    """The operators' login at /admin/: Django's, throttled like the staff login (SPEC §10)."""


admin.site.login_form = OperatorAuthenticationForm


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin[Account]):
    list_display = ["name", "id", "time_zone", "record_mode", "premium_workflows", "created_at"]
    search_fields = ["name"]
    list_filter = ["record_mode", "premium_workflows", "webhooks_allow_private"]
    # webhooks_allow_private is the operators' alone (SPEC §12): no staff page shows it.
    fields = [
        "name",
        "time_zone",
        "record_mode",
        "premium_workflows",
        "webhooks_allow_private",
        "fallback_agent",
        "duplicate_window_days",
    ]

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            create_default_groups(obj)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserForm
    add_form = NewUserForm
    list_display = ["username", "first_name", "last_name", "account", "is_active", "is_superuser"]
    list_filter = ["account", "is_active", "is_superuser"]
    search_fields = ["username", "first_name", "last_name", "email"]
    fieldsets = (
        (None, {"fields": ("account", "username", "password")}),
        ("Name", {"fields": ("first_name", "last_name", "email")}),
        ("Permissions", {"fields": ("is_active", "security_groups", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "account",
                    "username",
                    "first_name",
                    "last_name",
                    "email",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if not change:
            join_groups(form.instance, form.cleaned_data.get("security_groups") or [])


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ["__str__", "account", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["account"]
    fields = ["account", "label", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        return [*self.readonly_fields, "account"] if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        row, token = ApiToken.issue(obj.account, obj.label)
        obj.pk = row.pk
        obj.__dict__.update(row.__dict__)
        messages.warning(request, f"API token for {obj.account} (shown once, copy it now): {token}")

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: ApiTokenQuerySet) -> None:
        count = queryset.revoke()
        messages.success(request, f"Revoked {count} token(s).")


@admin.register(SecurityGroup)
class SecurityGroupAdmin(admin.ModelAdmin[SecurityGroup]):
    list_display = [
        "name",
        "account",
        "sales_enablement_visible",
        "manage_data",
        "manage_urls",
        "view_post_log",
        "manage_users",
    ]
    list_filter = ["account"]
    fields = [
        "account",
        "name",
        "sales_enablement_visible",
        "manage_data",
        "manage_urls",
        "view_post_log",
        "manage_users",
    ]


# --- Staff pages (scoped to the user's account; see accounts/staff.py) ---


@admin.register(User, site=staff_site)
class StaffUserAdmin(AccountScopedAdmin[User], DjangoUserAdmin):
    """Users of the agency: names (agents are matched by them), active flag, security groups."""

    view_needs = change_needs = (Permission.MANAGE_USERS,)
    form = UserForm
    add_form = NewUserForm
    list_display = ["username", "first_name", "last_name", "email", "is_active", "groups_list"]
    list_filter = ["is_active", "security_groups"]
    search_fields = ["username", "first_name", "last_name", "email"]
    filter_horizontal = ["security_groups"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Name", {"fields": ("first_name", "last_name", "email")}),
        ("Access", {"fields": ("is_active", "security_groups")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "first_name",
                    "last_name",
                    "email",
                    "usable_password",
                    "password1",
                    "password2",
                    "security_groups",
                ),
            },
        ),
    )

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial: dict[str, Any] = dict(super().get_changeform_initial_data(request))
        # Offered chosen, as a new user gets it anyway when none is (join_groups).
        agents = SecurityGroup.objects.filter(
            account_id=staff_user(request).account_id or 0, name=AGENTS
        )
        initial.setdefault("security_groups", [group.pk for group in agents])
        return initial

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if not change:
            join_groups(form.instance, form.cleaned_data.get("security_groups") or [])

    def get_queryset(self, request: HttpRequest) -> Any:
        # No staff page shows, edits or resets the password of an operator (SPEC §10), not even
        # to an operator: the password, change and delete pages all find users here.
        return super().get_queryset(request).filter(MEMBERS).prefetch_related("security_groups")

    @admin.display(description="security groups")
    def groups_list(self, obj: User) -> str:
        return ", ".join(group.name for group in obj.security_groups.all()) or "—"


@admin.register(SecurityGroup, site=staff_site)
class StaffSecurityGroupAdmin(AccountScopedAdmin[SecurityGroup], SecurityGroupAdmin):
    view_needs = change_needs = (Permission.MANAGE_USERS,)


class TrustedFormKeyForm(forms.ModelForm[Account]):
    """An account's settings with its TrustedForm API key (SPEC §14): written, never shown back."""

    trustedform_key = forms.CharField(
        label="TrustedForm API key",
        required=False,
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="From the Settings tab of your TrustedForm account. With a key, every "
        "certificate a vendor sends is claimed. Leave empty to keep the current key.",
    )
    clear_trustedform_key = forms.BooleanField(
        label="Remove the TrustedForm API key", required=False
    )

    class Meta:
        model = Account
        fields: list[str] = []

    def clean_trustedform_key(self) -> str:
        key: str = self.cleaned_data.get("trustedform_key") or ""
        # Sent in an Authorization header: printable ASCII only, or the claim could not be made.
        if key and not all("!" <= ch <= "~" for ch in key):
            raise forms.ValidationError(
                "A TrustedForm API key is letters, digits and punctuation, without spaces."
            )
        return key


class TrustedFormKeyAdmin(admin.ModelAdmin[Account]):
    """The TrustedForm key's fields on an account's page; the key itself never leaves the row."""

    form = TrustedFormKeyForm
    trustedform_fields = ("trustedform_key_state", "trustedform_key", "clear_trustedform_key")

    @admin.display(description="TrustedForm API key")
    def trustedform_key_state(self, obj: Account) -> str:
        return "set" if obj.trustedform_api_key else "not set"

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        key = form.cleaned_data.get("trustedform_key")
        if key:
            obj.trustedform_api_key = encrypt_secret(key)
        elif form.cleaned_data.get("clear_trustedform_key"):
            obj.trustedform_api_key = ""
        super().save_model(request, obj, form, change)


@admin.register(Account, site=staff_site)
class StaffAccountAdmin(AccountScopedAdmin[Account], TrustedFormKeyAdmin):
    """The agency's own settings: its time zone, where unroutable "Auto" leads go, and the
    window of cross-vendor duplicates (SPEC §14).

    The record mode has its own page (the Lead Post Utility, SPEC §10) and premium workflow actions
    are the operator's to grant, so both are shown here but not changed.
    """

    account_path = "pk"
    view_needs = change_needs = (Permission.MANAGE_USERS,)
    list_display = ["name", "time_zone", "record_mode", "premium_workflows", "fallback_agent"]
    fields = [
        "name",
        "time_zone",
        "record_mode",
        "premium_workflows",
        "fallback_agent",
        "duplicate_window_days",
        *TrustedFormKeyAdmin.trustedform_fields,
    ]
    readonly_fields = ["name", "record_mode", "premium_workflows", "trustedform_key_state"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "fallback_agent":
            kwargs["queryset"] = User.objects.filter(is_active=True)  # scoped by the base class
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
