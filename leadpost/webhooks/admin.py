"""Webhooks' pages (SPEC §12): the operators' view of every account's, and the staff pages where an
account's admins (Manage Lead Post URLs) make, test, pause and rotate theirs and follow each
delivery, attempt by attempt.

A secret is shown once, in the answer to the POST that made it: never in a URL, the session, a
message or a log, and never again afterwards (the pages show its last characters).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from leadpost.accounts.models import Permission
from leadpost.accounts.staff import AccountScopedAdmin, staff_site, staff_user
from leadpost.lib.logredact import redact_text
from leadpost.records.models import RecordType
from leadpost.webhooks import actions, snippets, tasks
from leadpost.webhooks.models import (
    DeliveryState,
    WebhookDelivery,
    WebhookSubscription,
)

PER_PAGE = 50
PERIOD_MAX_DAYS = 92  # one redelivery of a period is at most a quarter's failures


def state_of(subscription: WebhookSubscription) -> str:
    if subscription.paused:
        return f"Paused: {subscription.paused_reason}" if subscription.paused_reason else "Paused"
    if subscription.failing_since is not None:
        return "Active, failing"
    return "Active"


class WebhookAdminMixin:
    """What both sites show of a webhook."""

    @admin.display(description="events")
    def events_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.events or ()) or "—"

    @admin.display(description="state")
    def state(self, obj: WebhookSubscription) -> str:
        return state_of(obj)

    @admin.display(description="secret")
    def secret(self, obj: WebhookSubscription) -> str:
        return f"whsec_{obj.secret_hint}" if obj.secret_hint else "—"


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(WebhookAdminMixin, admin.ModelAdmin[WebhookSubscription]):
    """Operators see every account's webhooks and may delete one; the account's admins make and
    change them on the staff pages (their secret is shown to them, never here)."""

    list_display = ["__str__", "account", "url", "events_list", "state", "last_success_at"]
    list_filter = ["account"]
    list_select_related = ["account"]
    search_fields = ["url", "description", "account__name"]
    fields = readonly_fields = (
        "account",
        "url",
        "description",
        "events_list",
        "state",
        "secret",
        "failing_since",
        "last_success_at",
        "created_at",
        "created_by",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Staff pages (scoped to the user's account; see accounts/staff.py) ---


class WebhookForm(forms.ModelForm[WebhookSubscription]):
    # Not stripped: a URL pasted with a newline or a tab is refused, not silently changed.
    url = forms.CharField(label="URL", strip=False, widget=forms.URLInput(attrs={"size": 80}))
    events = forms.MultipleChoiceField(
        choices=actions.EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event to send to this URL."},
    )

    class Meta:
        model = WebhookSubscription
        fields = ["account", "url", "description", "events"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.explain()

    def explain(self) -> None:
        """The URL's help says which addresses the account's webhooks may reach (again once the
        staff site has put a new row in the user's account)."""
        account = self.instance.account if self.instance.account_id else None
        allowed = account is not None and account.webhooks_allow_private
        self.fields["url"].help_text = (
            "Where events are POSTed, e.g. https://crm.example.com/hooks/leadpost. "
            + (actions.PRIVATE_ALLOWED if allowed else actions.PUBLIC_ONLY)
        )

    def clean_url(self) -> str:
        value: str = self.cleaned_data["url"]
        if not self.instance.account_id:
            return value  # an operator's new row: the account is checked with the form
        return actions.check_webhook_url(value, self.instance.account)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        account = data.get("account")
        if account is not None and "url" in data and not self.instance.account_id:
            try:
                actions.check_webhook_url(data["url"], account)
            except forms.ValidationError as error:
                self.add_error("url", error)
        return data


class PeriodForm(forms.Form):
    since = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until:
            if since > until:
                raise forms.ValidationError("The period ends before it starts.")
            if (until - since).days > PERIOD_MAX_DAYS:
                raise forms.ValidationError(f"Choose at most {PERIOD_MAX_DAYS} days.")
        return data


@admin.register(WebhookSubscription, site=staff_site)
class StaffWebhookAdmin(WebhookAdminMixin, AccountScopedAdmin[WebhookSubscription]):
    """The account's webhooks, for its admins (SPEC §12: Manage Lead Post URLs)."""

    view_needs = change_needs = (Permission.MANAGE_URLS,)
    form = WebhookForm
    change_form_template = "staff/webhooks/change_form.html"
    list_display = ["__str__", "url", "events_list", "state", "last_success_at", "failing_since"]
    readonly_fields = ["state", "secret", "failing_since", "last_success_at", "created_at"]
    actions = None

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["account", "url", "description", "events"]
        if obj is not None:
            fields += self.readonly_fields
        return [f for f in fields if f != "account"] if self._hides_account(request) else fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else []

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)

        class Explained(form):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.explain()

        Explained.__name__ = form.__name__
        return Explained

    # --- a new webhook: its secret, once ---

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        user = staff_user(request)
        account = obj.account if user.is_superuser else user.account
        assert account is not None  # a member's own account, or the one an operator chose
        row, secret = actions.create_subscription(
            account,
            url=obj.url,
            events=list(obj.events),
            description=obj.description,
            created_by=user,
        )
        obj.__dict__.update(row.__dict__)
        obj._secret_shown_once = secret

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: str | None = None
    ) -> HttpResponse:
        return self._show_secret(request, obj, obj._secret_shown_once, "made")

    def _show_secret(
        self, request: HttpRequest, subscription: WebhookSubscription, secret: str, how: str
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "The webhook's signing secret",
            "subscription": subscription,
            "secret": secret,
            "how": how,
            "opts": self.opts,
        }
        response = TemplateResponse(request, "staff/webhooks/secret.html", context)
        response["Cache-Control"] = "no-store"  # not kept by the browser or a proxy
        return response

    # --- the webhook's own pages and buttons ---

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        own: list[tuple[str, Callable[..., HttpResponse], str]] = [
            ("<path:object_id>/deliveries/", self.deliveries_view, "deliveries"),
            ("<path:object_id>/pause/", self.pause_view, "pause"),
            ("<path:object_id>/resume/", self.resume_view, "resume"),
            ("<path:object_id>/rotate/", self.rotate_view, "rotate"),
            ("<path:object_id>/test/", self.test_view, "test"),
            ("<path:object_id>/redeliver-failed/", self.redeliver_failed_view, "redeliver_failed"),
            ("delivery/<int:delivery_id>/", self.delivery_view, "delivery"),
            ("delivery/<int:delivery_id>/redeliver/", self.redeliver_view, "redeliver"),
        ]
        return [
            *(path(route, wrap(view), name=f"{info}_{name}") for route, view, name in own),
            *super().get_urls(),
        ]

    def _denied(self, request: HttpRequest) -> HttpResponse | None:
        if self.has_change_permission(request):
            return None
        return self.admin_site.forbidden(request, "Webhooks", "Manage Lead Post URLs")  # type: ignore[attr-defined]

    def _own(self, request: HttpRequest, object_id: str) -> WebhookSubscription:
        """The user's account's webhook, or 404 (another account's is not told from none)."""
        if not object_id.isascii() or not object_id.isdigit():
            raise Http404("No such webhook.")
        found = self.get_queryset(request).select_related("account").filter(pk=int(object_id))
        subscription = found.first()
        if subscription is None:
            raise Http404("No such webhook.")
        return subscription

    def _own_delivery(self, request: HttpRequest, delivery_id: int) -> WebhookDelivery:
        delivery = (
            WebhookDelivery.objects.select_related("event", "subscription__account")
            .filter(pk=delivery_id, subscription__in=self.get_queryset(request))
            .first()
        )
        if delivery is None:
            raise Http404("No such delivery.")
        return delivery

    def _back(self, subscription: WebhookSubscription, page: str = "change") -> HttpResponse:
        name = f"{self.admin_site.name}:webhooks_webhooksubscription_{page}"
        return HttpResponseRedirect(reverse(name, args=[subscription.pk]))

    def _button(
        self,
        request: HttpRequest,
        object_id: str,
        press: Callable[[WebhookSubscription], HttpResponse],
    ) -> HttpResponse:
        """A webhook's button: its admins only, their account's webhook only, a POST only."""
        denied = self._denied(request)
        if denied is not None:
            return denied
        subscription = self._own(request, object_id)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        return press(subscription)

    def pause_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def pause(subscription: WebhookSubscription) -> HttpResponse:
            if actions.pause_by_staff(subscription, staff_user(request)):
                messages.success(request, "Paused: events are kept for it until you resume it.")
            return self._back(subscription)

        return self._button(request, object_id, pause)

    def resume_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def resume(subscription: WebhookSubscription) -> HttpResponse:
            waiting = tasks.resume(subscription)
            messages.success(request, f"Resumed: {waiting} waiting deliver(ies) go out now.")
            return self._back(subscription)

        return self._button(request, object_id, resume)

    def rotate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def rotate(subscription: WebhookSubscription) -> HttpResponse:
            secret = actions.rotate_secret(subscription)
            return self._show_secret(request, subscription, secret, "rotated")

        return self._button(request, object_id, rotate)

    def test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def test(subscription: WebhookSubscription) -> HttpResponse:
            event = actions.send_test_event(subscription)
            messages.success(
                request,
                f"Test event {event.public_id} is on its way"
                + (" (it waits: the webhook is paused)." if subscription.paused else "."),
            )
            return self._back(subscription, "deliveries")

        return self._button(request, object_id, test)

    def redeliver_failed_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def redeliver_failed(subscription: WebhookSubscription) -> HttpResponse:
            period = PeriodForm(request.POST)
            if not period.is_valid():
                errors = "; ".join(str(e) for field in period.errors.values() for e in field)
                messages.error(request, f"Nothing was redelivered: {errors}")
                return self._back(subscription, "deliveries")
            since, until = period.cleaned_data["since"], period.cleaned_data["until"]
            count = tasks.redeliver(actions.failed_between(subscription, since, until))
            messages.success(
                request, f"Redelivering {count} failed deliver(ies) of {since} to {until}."
            )
            return self._back(subscription, "deliveries")

        return self._button(request, object_id, redeliver_failed)

    def redeliver_view(self, request: HttpRequest, delivery_id: int) -> HttpResponse:
        denied = self._denied(request)
        if denied is not None:
            return denied
        delivery = self._own_delivery(request, delivery_id)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if tasks.redeliver([delivery]):
            messages.success(request, f"Redelivering {delivery.event.public_id}.")
        else:
            messages.warning(
                request, "This delivery is being attempted or waits for the webhook: try later."
            )
        name = f"{self.admin_site.name}:webhooks_webhooksubscription_delivery"
        return HttpResponseRedirect(reverse(name, args=[delivery.pk]))

    # --- deliveries and attempts ---

    def deliveries_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        denied = self._denied(request)
        if denied is not None:
            return denied
        subscription = self._own(request, object_id)
        deliveries: QuerySet[WebhookDelivery] = (
            subscription.deliveries.select_related("event")
            .order_by("-id")
            .only(
                "id",
                "state",
                "attempts",
                "last_status",
                "next_attempt_at",
                "error",
                "created_at",
                "event__uid",
                "event__type",
                "event__record_id",
                "event__created_at",
            )
        )
        state = request.GET.get("state", "")
        if state in DeliveryState.values:
            deliveries = deliveries.filter(state=state)
        page = Paginator(deliveries, PER_PAGE).get_page(request.GET.get("page"))
        record_types = self._record_types(page.object_list)
        today = timezone.localdate(timezone.now(), subscription.account.tz)
        rows = [
            {
                "delivery": d,
                "record_url": self._record_url(d.event.record_id, record_types),
                "error": redact_text(d.error),
                "waiting": d.state == DeliveryState.PENDING,
            }
            for d in page.object_list
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Deliveries of {subscription}",
            "subscription": subscription,
            "opts": self.opts,
            "page": page,
            "rows": rows,
            "states": DeliveryState.choices,
            "state": state,
            "period": PeriodForm(initial={"since": today - dt.timedelta(days=7), "until": today}),
            # Not "time_zone": the admin's base template sets that name to the server's.
            "account_time_zone": subscription.account.time_zone,
        }
        return TemplateResponse(request, "staff/webhooks/deliveries.html", context)

    def delivery_view(self, request: HttpRequest, delivery_id: int) -> HttpResponse:
        denied = self._denied(request)
        if denied is not None:
            return denied
        delivery = self._own_delivery(request, delivery_id)
        record_types = self._record_types([delivery])
        # A receiver's answer may echo the lead: a Sales Record's is Sales Enablement data
        # (SPEC §10), hidden from those without it like the record itself.
        hidden = record_types.get(
            delivery.event.record_id or 0
        ) == RecordType.SALES_RECORD and not staff_user(request).has_account_permission(
            Permission.SALES_ENABLEMENT
        )
        attempts = [
            {
                "attempt": a,
                "head": (
                    "(hidden: the lead is a Sales Record; its answers need Sales Enablement)"
                    if hidden and a.response_head
                    else redact_text(a.response_head)
                ),
                "error": redact_text(a.error),
            }
            for a in delivery.tries.all()
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Delivery of {delivery.event.public_id}",
            "delivery": delivery,
            "subscription": delivery.subscription,
            "record_url": self._record_url(delivery.event.record_id, record_types),
            "error": redact_text(delivery.error),
            "attempts": attempts,
            "can_redeliver": delivery.state != DeliveryState.PAUSED,
            "account_time_zone": delivery.subscription.account.time_zone,
            "opts": self.opts,
        }
        return TemplateResponse(request, "staff/webhooks/delivery.html", context)

    @staticmethod
    def _record_types(deliveries: Any) -> dict[int, str]:
        from leadpost.records.models import Record

        ids = {d.event.record_id for d in deliveries if d.event.record_id}
        return dict(Record.objects.filter(pk__in=ids).values_list("pk", "record_type"))

    def _record_url(self, record_id: int | None, types: dict[int, str]) -> str | None:
        if record_id is None or record_id not in types:
            return None
        model = "salesrecord" if types[record_id] == RecordType.SALES_RECORD else "individual"
        return reverse(f"{self.admin_site.name}:records_{model}_change", args=[record_id])

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = {
            **(extra_context or {}),
            "python_snippet": snippets.PYTHON,
            "node_snippet": snippets.NODE,
        }
        return super().change_view(request, object_id, form_url, extra)
