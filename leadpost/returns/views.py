"""The staff pages of returns (SPEC §14): return a record (and undo it) from its page, and the
month's returns report per vendor with its CSV.

All of them need Manage Data & Custom Fields: returning a lead changes what the agency pays, and
the report lists leads by name. A Sales Record is returned, and counted, only by users who also
see Sales Enablement (SPEC §10); operators belong to no account and return nothing.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from leadpost.accounts.models import Account, Permission, User
from leadpost.accounts.staff import staff_site, staff_user
from leadpost.lib.choices import RecordType
from leadpost.records.models import Record
from leadpost.returns import actions
from leadpost.returns.models import RecordReturn, ReturnReason
from leadpost.returns.report import MonthError, csv_lines, parse_month, returns_report
from leadpost.vendors.views import MAX_ID_DIGITS, account_reader, csv_download, percent

NEEDED = Permission.MANAGE_DATA
TITLE = "Returns to vendors"


class ReturnForm(forms.Form):
    reason = forms.ChoiceField(
        choices=ReturnReason.choices,
        error_messages={"invalid_choice": "Choose one of the reasons listed."},
    )
    note = forms.CharField(
        required=False,
        max_length=actions.NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "maxlength": actions.NOTE_MAX}),
        help_text=f"For the vendor, at most {actions.NOTE_MAX} characters; SSNs are masked.",
    )


def may_return(user: Any) -> bool:
    return (
        isinstance(user, User)
        and user.account_id is not None
        and user.has_account_permission(NEEDED)
    )


def _records(user: User) -> QuerySet[Record]:
    """The records `user` may return: their account's, Sales Records only with Sales Enablement."""
    records = Record.objects.filter(account_id=user.account_id or 0)
    if not user.has_account_permission(Permission.SALES_ENABLEMENT):
        records = records.exclude(record_type=RecordType.SALES_RECORD)
    return records


def _record_url(record: Record) -> str:
    model = "individual" if record.record_type == RecordType.INDIVIDUAL else "salesrecord"
    return reverse(f"staff:records_{model}_change", args=[record.pk])


def _find(request: HttpRequest, pk: str) -> tuple[User, Record] | HttpResponse:
    """The user and the record of the request, or the answer refusing it. Another account's
    record (or a Sales Record the user cannot see) is not found, whoever asks."""
    user = staff_user(request)
    if not pk.isascii() or not pk.isdigit() or len(pk) > MAX_ID_DIGITS:
        raise Http404("No such record.")
    if user.account_id is None:
        raise Http404("Operators return no records: returns are an agency's.")
    record = _records(user).select_related("account", "lead_post_url").filter(pk=int(pk)).first()
    if record is None:
        raise Http404("No such record.")
    if not may_return(user):
        return staff_site.forbidden(request, "Return to vendor", NEEDED.label)
    return user, record


def _refused(request: HttpRequest, record: Record, why: str, status: int) -> HttpResponse:
    context = {
        **staff_site.each_context(request),
        "title": f"Return of {record} refused",
        "record": record,
        "record_url": _record_url(record),
        "why": why,
    }
    return TemplateResponse(request, "staff/returns/refused.html", context, status=status)


@require_POST
def return_view(request: HttpRequest, pk: str) -> HttpResponse:
    found = _find(request, pk)
    if isinstance(found, HttpResponse):
        return found
    user, record = found
    form = ReturnForm(request.POST)
    if not form.is_valid():
        why = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return _refused(request, record, why, 400)
    try:
        actions.return_record(
            record, form.cleaned_data["reason"], form.cleaned_data["note"], by=user
        )
    except actions.ReturnRefused as refused:
        return _refused(request, record, str(refused), 409)
    messages.success(request, f"{record} is returned to {record.lead_post_url.label}.")  # type: ignore[union-attr]
    return HttpResponseRedirect(_record_url(record))


@require_POST
def undo_view(request: HttpRequest, pk: str) -> HttpResponse:
    found = _find(request, pk)
    if isinstance(found, HttpResponse):
        return found
    user, record = found
    try:
        actions.undo_return(record, by=user)
    except actions.ReturnRefused as refused:
        return _refused(request, record, str(refused), 409)
    messages.success(request, f"The return of {record} is undone.")
    return HttpResponseRedirect(_record_url(record))


def record_panel(request: HttpRequest, record: Record) -> dict[str, Any]:
    """What a record's page shows of its return, and the forms to return it or undo that."""
    user = request.user
    returned = (
        RecordReturn.objects.select_related("returned_by").filter(record_id=record.pk).first()
    )
    now = timezone.now()
    can_act = may_return(user) and isinstance(user, User) and user.account_id == record.account_id
    panel: dict[str, Any] = {"returned": returned, "can_act": can_act}
    if returned is not None:
        panel["undo_refusal"] = actions.undo_refusal(returned, now)
        panel["undo_url"] = reverse("staff:return_undo", args=[record.pk])
    else:
        panel["refusal"] = actions.refusal(record, now)
        panel["window_end"] = actions.window_end(record)
        panel["return_url"] = reverse("staff:return_record", args=[record.pk])
        panel["form"] = ReturnForm()
    return {"vendor_return": panel, "account_time_zone": record.account.time_zone}


# --- the report -----------------------------------------------------------------------------


def _reader(request: HttpRequest) -> tuple[Account, bool] | HttpResponse:
    return account_reader(request, TITLE, NEEDED)


def _url_id(request: HttpRequest) -> int | None:
    value = request.GET.get("url", "")
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > MAX_ID_DIGITS:
        raise Http404("No such Lead Post URL.")
    return int(value)


def _report(request: HttpRequest) -> Any:
    reader = _reader(request)
    if isinstance(reader, HttpResponse):
        return reader
    account, sales_visible = reader
    url_id = _url_id(request)
    if url_id is not None and not account.lead_post_urls.filter(pk=url_id).exists():
        raise Http404("No such Lead Post URL.")
    today = account.local_date(timezone.now())
    try:
        month = parse_month(request.GET.get("month"), today)
    except MonthError as error:
        context = {
            **staff_site.each_context(request),
            "title": TITLE,
            "month_error": str(error),
            "month_value": today.strftime("%Y-%m"),
        }
        return TemplateResponse(request, "staff/returns/report.html", context, status=400)
    return returns_report(account, month, sales_visible=sales_visible, url_id=url_id), url_id


@require_safe
def report_page(request: HttpRequest) -> HttpResponse:
    found = _report(request)
    if isinstance(found, HttpResponse):
        return found
    report, url_id = found
    query = f"month={report.month:%Y-%m}" + (f"&url={url_id}" if url_id else "")
    context = {
        **staff_site.each_context(request),
        "title": TITLE,
        "report": report,
        "month_value": f"{report.month:%Y-%m}",
        "url_id": url_id,
        "query": query,
        "account_time_zone": report.account.time_zone,
        "vendors": [
            {"v": vendor, "share": percent(vendor.share), "returns": len(vendor.returned)}
            for vendor in report.vendors
        ],
    }
    return TemplateResponse(request, "staff/returns/report.html", context)


@require_safe
def report_csv(request: HttpRequest) -> HttpResponse:
    found = _report(request)
    if isinstance(found, HttpResponse):
        return found
    report, url_id = found
    name = f"returns-{report.month:%Y-%m}" + (f"-vendor-{url_id}" if url_id else "") + ".csv"
    return csv_download(csv_lines(report), name)
