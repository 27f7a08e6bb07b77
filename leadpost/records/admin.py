from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from leadpost.accounts.models import MEMBERS, Permission, SecurityGroup, User
from leadpost.accounts.staff import AccountScopedAdmin, staff_site, staff_user
from leadpost.consent.present import consent_html
from leadpost.records.duplicates import MATCH_KINDS, matched_on
from leadpost.records.models import (
    Attachment,
    AttachmentState,
    CustomField,
    Individual,
    ListValue,
    Note,
    Record,
    RecordType,
    SalesRecord,
)
from leadpost.returns.views import record_panel as return_panel
from leadpost.routing.actions import assign_agent
from leadpost.routing.models import AgentNotification, NotificationState


def _agent_email_state(sent: AgentNotification) -> SafeString:
    """An agent e-mail's state on a record page, in words an agency reads without a manual."""
    if sent.state == NotificationState.SENT:
        when = sent.sent_at.isoformat(timespec="seconds") if sent.sent_at else ""
        return format_html("sent {}", when)
    if sent.state == NotificationState.OFF:
        return SafeString("not sent: this agent turned lead e-mails off")
    if sent.state == NotificationState.MOVED:
        return SafeString("not sent: the record went to another agent before it went out")
    if sent.state == NotificationState.FAILED:
        return format_html("failed: {}", sent.error)
    if sent.attempts == 0:
        return SafeString("waiting to be sent")
    when = sent.next_attempt_at.isoformat(timespec="seconds") if sent.next_attempt_at else "soon"
    return format_html(
        "not sent yet, will retry: {} {} failed, next try at {}; last error: {}",
        sent.attempts,
        "try" if sent.attempts == 1 else "tries",
        when,
        sent.error,
    )


def agent_emails_of(record: Record) -> str:
    rows = [
        (str(sent.agent), _agent_email_state(sent))
        for sent in record.agent_notifications.select_related("agent").order_by("id")
    ]
    return _listed(rows)


def _unfinished(state: str, attempts: int, error: str) -> SafeString:
    """A background job's state on a record page: failed with why, or pending with its tries."""
    if state == "failed":
        return format_html("failed: {}", error)
    return format_html("pending (tries: {}){}", attempts, f"; last error: {error}" if error else "")


def _listed(rows: Sequence[tuple[str, SafeString]]) -> str:
    if not rows:
        return "—"
    return format_html("<ul>{}</ul>", format_html_join("", "<li>{} — {}</li>", rows))


class NoteInline(admin.StackedInline[Note, Record]):
    """Notes with their files, read-only: they are the record's audit trail (SPEC §8)."""

    model = Note
    extra = 0
    can_delete = False
    fields = readonly_fields = ("pinned", "subject", "body", "created_at", "files")
    ordering = ("-pinned", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Whoever may see the record sees its notes: Django would ask for the `view_note` model
        # permission, which agency staff (security groups, not Django permissions) never have.
        parent = self.admin_site._registry[self.parent_model]
        return bool(parent.has_view_permission(request, obj))

    @admin.display(description="files")
    def files(self, note: Note) -> str:
        rows = []
        for attachment in note.attachments.all():
            if attachment.state == AttachmentState.STORED:
                link = reverse(
                    f"{self.admin_site.name}:records_attachment_download", args=[attachment.pk]
                )
                state = format_html('<a href="{}">download</a> ({} bytes)', link, attachment.size)
            else:
                state = _unfinished(attachment.state, attachment.attempts, attachment.error)
            rows.append((attachment.file_name, state))
        return _listed(rows)


RECORD_FIELDS = [
    "id",
    "account",
    "created_at",
    "lead_post_url",
    "possible_duplicate",
    "external_id",
    "first_name",
    "middle_initial",
    "last_name",
    "title",
    "birth_date",
    "ssn_masked",
    "gender",
    "smoker_status",
    "email",
    "status",
    "lead_source",
    "lead_date",
    "home_phone",
    "cell_phone",
    "street1",
    "street2",
    "city",
    "state",
    "zip_code",
    "county",
    "servicing_agent",
    "routing_decision",
    "agent_emails",
    "custom_fields",
    "consent_evidence",
]
INDIVIDUAL_ONLY = [
    "type",
    "project_code",
    "lead_source_other",
    "business_phone",
    "lead_source_agent",
]


class RecordAdmin(admin.ModelAdmin[Record]):
    """Records are what vendors sent: operators read them here; staff pages come per account."""

    list_display = [
        "id",
        "first_name",
        "last_name",
        "account",
        "status",
        "lead_source",
        "servicing_agent",
        "lead_date",
        "created_at",
    ]
    list_filter = ["account", "status", "lead_source", "created_at"]
    search_fields = [
        "=id",
        "first_name",
        "last_name",
        "email",
        "external_id",
        "home_phone",
        "cell_phone",
    ]
    list_select_related = ["account", "status", "lead_source", "servicing_agent"]
    date_hierarchy = "created_at"
    inlines = [NoteInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Record | None = None) -> bool:
        return False

    @admin.display(description="SSN")
    def ssn_masked(self, obj: Record) -> str:
        return obj.ssn_masked or "—"

    @admin.display(description="routing")
    def routing_decision(self, obj: Record) -> str:
        decision = obj.routing
        if not decision:
            return "—"
        agent = decision.get("agent")
        who = f"{agent['firstName']} {agent['lastName']}" if agent else "nobody"
        how = {
            "rule": f"by rule “{(decision.get('rule') or {}).get('name', '')}”",
            "fallback": "as the account's fallback agent",
        }.get(decision.get("via", ""), "(no rule had an eligible agent)")
        skipped = format_html_join(
            "",
            "<li>{} ({}): {}</li>",
            ((s["agent"], s["rule"], s["reason"]) for s in decision.get("skipped", [])),
        )
        return format_html(
            "Assigned to <strong>{}</strong> {}.{}",
            who,
            how,
            format_html("<br>Skipped:<ul>{}</ul>", skipped) if decision.get("skipped") else "",
        )

    @admin.display(description="possible duplicate")
    def possible_duplicate(self, obj: Record) -> str:
        return self._duplicate_flag(obj, sales_visible=True)

    @admin.display(description="possible duplicate")
    def possible_duplicate_without_sales(self, obj: Record) -> str:
        return self._duplicate_flag(obj, sales_visible=False)

    def _duplicate_flag(self, obj: Record, *, sales_visible: bool) -> str:
        """SPEC §14: "possible duplicate of record N (vendor X, date)", linked, with what matched.

        Without Sales Enablement a flag naming a Sales Record is not shown at all (SPEC §10:
        such a user learns nothing of a Sales Record, not even that one matched)."""
        earlier = obj.duplicate_of
        if earlier is None:
            return "—"
        sales = earlier.record_type == RecordType.SALES_RECORD
        if sales and not sales_visible:
            return "—"
        model = "salesrecord" if sales else "individual"
        link = reverse(f"{self.admin_site.name}:records_{model}_change", args=[earlier.pk])
        url = earlier.lead_post_url
        vendor = url.label if url is not None else "a Lead Post URL since deleted"
        day = obj.account.local_date(earlier.created_at)
        matched = ", ".join(MATCH_KINDS[k] for k in matched_on(obj.duplicate_matched))
        return format_html(
            '<span class="possible-duplicate">Possible duplicate of <a href="{}">{} {}</a> '
            "(vendor {}, {}): the same {}.</span>",
            link,
            "Sales Record" if sales else "record",
            earlier.pk,
            vendor,
            f"{day:%b %-d, %Y}",
            matched or "details",
        )

    @admin.display(description="agent e-mails")
    def agent_emails(self, obj: Record) -> str:
        return agent_emails_of(obj)

    @admin.display(description="consent evidence")
    def consent_evidence(self, obj: Record) -> str:
        return consent_html(obj)  # SPEC §14

    @admin.display(description="custom fields")
    def custom_fields(self, obj: Record) -> str:
        values = sorted(obj.custom_values.select_related("field"), key=lambda v: v.field.name)
        if not values:
            return "—"
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "", "<tr><th>{}</th><td>{}</td></tr>", ((v.field.name, v.value) for v in values)
            ),
        )


@admin.register(Individual)
class IndividualAdmin(RecordAdmin):
    fields = readonly_fields = (*RECORD_FIELDS, *INDIVIDUAL_ONLY)


@admin.register(SalesRecord)
class SalesRecordAdmin(RecordAdmin):
    fields = readonly_fields = tuple(RECORD_FIELDS)


@admin.register(ListValue)
class ListValueAdmin(admin.ModelAdmin[ListValue]):
    list_display = ["value", "list_name", "account", "created_at"]
    list_filter = ["list_name", "account"]
    search_fields = ["value"]
    fields = ["account", "list_name", "value"]


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin[Attachment]):
    """Every attachment with its state, to find failed or stuck downloads across records."""

    list_display = ["file_name", "state", "attempts", "size", "record_link", "created_at", "error"]
    list_filter = ["state", "created_at"]
    search_fields = ["file_name", "source_url", "=note__record__id"]
    list_select_related = ["note__record"]
    fields = readonly_fields = (
        "file_name",
        "state",
        "source_url",
        "size",
        "sha256",
        "content_type",
        "attempts",
        "next_attempt_at",
        "lease_until",
        "error",
        "created_at",
        "stored_at",
        "record_link",
        "download_link",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Attachment | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Attachment | None = None) -> bool:
        return False

    @admin.display(description="record")
    def record_link(self, obj: Attachment) -> str:
        record = obj.note.record
        model = "individual" if record.record_type == "individual" else "salesrecord"
        url = reverse(f"{self.admin_site.name}:records_{model}_change", args=[record.pk])
        return format_html('<a href="{}">{}</a>', url, record)

    @admin.display(description="file")
    def download_link(self, obj: Attachment) -> str:
        if obj.state != AttachmentState.STORED:
            return "—"
        url = reverse(f"{self.admin_site.name}:records_attachment_download", args=[obj.pk])
        return format_html('<a href="{}">download {}</a>', url, obj.file_name)

    def get_urls(self) -> list[URLPattern]:
        download = self.admin_site.admin_view(self.download)
        return [
            path("<int:pk>/download/", download, name="records_attachment_download"),
            *super().get_urls(),
        ]

    def download(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        attachment = self.get_queryset(request).filter(pk=pk).first()
        if attachment is None or not self.has_view_permission(request, attachment):
            raise Http404("No such attachment.")
        if attachment.state != AttachmentState.STORED:
            raise Http404("This attachment is not stored.")
        return FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.file_name,
            content_type=attachment.content_type or "application/octet-stream",
        )


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin[CustomField]):
    list_display = ["name", "parameter", "entity_type", "field_type", "active", "account"]
    list_filter = ["entity_type", "field_type", "active", "account"]
    search_fields = ["name"]
    fields = ["account", "entity_type", "name", "field_type", "options", "active"]

    @admin.display(description="post parameter")
    def parameter(self, obj: CustomField) -> str:
        return obj.parameter


# --- Staff pages (scoped to the user's account; see accounts/staff.py) ---

STAFF_RECORD_FILTERS = [
    ("status", admin.RelatedOnlyFieldListFilter),
    ("lead_source", admin.RelatedOnlyFieldListFilter),
    ("servicing_agent", admin.RelatedOnlyFieldListFilter),
    "created_at",
    "lead_date",
]


class AgentField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        name = obj.get_full_name() or obj.get_username()
        return f"{name} ({obj.email})" if obj.email else f"{name} (no e-mail address)"


class AgentChoiceForm(forms.Form):
    agent = AgentField(
        queryset=User.objects.none(),
        label="Agent",
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of the agents listed."},
    )

    def __init__(self, *args: Any, agents: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["agent"]
        assert isinstance(field, AgentField)
        field.queryset = agents


def eligible_agents(record: Record) -> QuerySet[User]:
    """Whom a record may be given to on its page: the active users of its account; for a Sales
    Record, only those who can see Sales Enablement, as for an agent named in a post (SPEC §6)."""
    agents = User.objects.filter(MEMBERS, account_id=record.account_id, is_active=True)
    if record.record_type == RecordType.SALES_RECORD:
        agents = agents.filter(
            Exists(
                SecurityGroup.objects.filter(
                    members=OuterRef("pk"),
                    account_id=record.account_id,
                    sales_enablement_visible=True,
                )
            )
        )
    return agents.order_by("first_name", "last_name", "id")


class StaffRecordAdmin(AccountScopedAdmin[Record]):
    """A record's staff page: read-only but for its agent, changed on its own page (SPEC §12)."""

    change_form_template = "staff/record_change_form.html"

    def agent_needs(self) -> tuple[Permission, ...]:
        return (*self.view_needs, Permission.MANAGE_DATA)

    def may_change_agent(self, request: HttpRequest) -> bool:
        return self._allowed(request, self.agent_needs())

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_agent"
        view = self.admin_site.admin_view(self.change_agent_view)  # logged in, CSRF-checked
        return [path("<int:pk>/agent/", view, name=name), *super().get_urls()]

    def get_fields(self, request: HttpRequest, obj: Record | None = None) -> list[str]:  # type: ignore[override]
        return self._flag_for(request, super().get_fields(request, obj))

    def get_readonly_fields(self, request: HttpRequest, obj: Record | None = None) -> list[str]:
        return self._flag_for(request, super().get_readonly_fields(request, obj))

    def _flag_for(self, request: HttpRequest, names: Sequence[Any]) -> list[str]:
        """The duplicate flag as this user may see it: on an Individual of a user without Sales
        Enablement, one that never names a Sales Record."""
        if staff_user(request).has_account_permission(Permission.SALES_ENABLEMENT):
            return list(names)
        return [
            "possible_duplicate_without_sales" if n == "possible_duplicate" else n for n in names
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        if self.may_change_agent(request) and object_id.isdigit():
            context["change_agent_url"] = reverse(
                f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_agent",
                args=[int(object_id)],
            )
        # Its return to the vendor, and the forms to return it or undo that (SPEC §14).
        record = self.get_object(request, object_id) if request.method == "GET" else None
        if record is not None:
            context.update(return_panel(request, record))
        return super().change_view(request, object_id, form_url, context)

    def change_agent_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        # Another account's record (or one of the other type) is not found, whoever asks.
        record = self.get_queryset(request).select_related("servicing_agent").filter(pk=pk).first()
        if record is None:
            raise Http404("No such record.")
        if not self.may_change_agent(request):
            needed = " and ".join(p.label for p in self.agent_needs())
            return staff_site.forbidden(request, "Change agent", needed)
        form = AgentChoiceForm(
            request.POST if request.method == "POST" else None,
            agents=eligible_agents(record),
            initial={"agent": record.servicing_agent_id},
        )
        record_url = reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[record.pk],
        )
        if request.method == "POST" and form.is_valid():
            agent: User = form.cleaned_data["agent"]
            try:
                changed = assign_agent(record, agent)
            except ValueError as exc:  # deactivated or moved since the form was valid
                form.add_error("agent", str(exc))
            else:
                if changed:
                    messages.success(
                        request, f"{agent} is now this record's agent and is being e-mailed."
                    )
                else:
                    messages.info(request, f"{agent} already was this record's agent.")
                return HttpResponseRedirect(record_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change the agent of {record}",
            "record": record,
            "record_url": record_url,
            "form": form,
            "opts": self.opts,
            "agent_emails": agent_emails_of(record),
        }
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(request, "staff/change_agent.html", context, status=status)


@admin.register(Individual, site=staff_site)
class StaffIndividualAdmin(StaffRecordAdmin, IndividualAdmin):
    list_filter = STAFF_RECORD_FILTERS  # type: ignore[assignment]


@admin.register(SalesRecord, site=staff_site)
class StaffSalesRecordAdmin(StaffRecordAdmin, SalesRecordAdmin):
    view_needs = (Permission.SALES_ENABLEMENT,)
    list_filter = STAFF_RECORD_FILTERS  # type: ignore[assignment]


@admin.register(ListValue, site=staff_site)
class StaffListValueAdmin(AccountScopedAdmin[ListValue], ListValueAdmin):
    view_needs = change_needs = (Permission.MANAGE_DATA,)


@admin.register(CustomField, site=staff_site)
class StaffCustomFieldAdmin(AccountScopedAdmin[CustomField], CustomFieldAdmin):
    view_needs = change_needs = (Permission.MANAGE_DATA,)


@admin.register(Attachment, site=staff_site)
class StaffAttachmentAdmin(AccountScopedAdmin[Attachment], AttachmentAdmin):
    account_path = "note__record__account"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Attachment]:
        queryset = super().get_queryset(request)
        # Fix (issue 4 tests): Sales Records need Sales Enablement (SPEC §10), so do their files;
        # without this the attachment list and downloads showed them to every staff user.
        if not staff_user(request).has_account_permission(Permission.SALES_ENABLEMENT):
            queryset = queryset.exclude(note__record__record_type=RecordType.SALES_RECORD)
        return queryset


def custom_fields_page(request: HttpRequest) -> HttpResponse:
    """SPEC §7: pick the entity type, see each field's exact post parameter, type and options."""
    user = staff_user(request)
    if not user.has_account_permission(Permission.MANAGE_DATA):
        return staff_site.forbidden(request, "Custom Fields", "Manage Data & Custom Fields")
    entity = request.GET.get("entity_type", RecordType.INDIVIDUAL)
    if entity not in RecordType.values:
        entity = RecordType.INDIVIDUAL
    fields = CustomField.objects.filter(entity_type=entity).order_by("name")
    if not user.is_superuser:
        fields = fields.filter(account_id=user.account_id or 0)
    context = {
        **staff_site.each_context(request),
        "title": "Custom Fields",
        "entity_types": RecordType.choices,
        "entity_type": entity,
        "fields": fields,
    }
    return TemplateResponse(request, "staff/custom_fields.html", context)


staff_site.add_page("custom-fields/", custom_fields_page, "custom_fields_page")
