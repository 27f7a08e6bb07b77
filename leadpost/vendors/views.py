"""The vendor performance pages of the staff site (SPEC §13): the account's vendors side by side,
one page per Lead Post URL, their CSV downloads, and the 7-day summary on a URL's change page.

Each page makes one `figures.report()` call, whatever the number of URLs or days, and shows only
counts, rates, times, agents' names and redacted examples (never a lead). They need View Lead
Post Log; Sales Record mode posts are counted only for users who see Sales Enablement (SPEC §10).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from leadpost.accounts.models import Account, Permission, User
from leadpost.accounts.staff import staff_site, staff_user
from leadpost.intake.models import LeadPostUrl, PostResult
from leadpost.lib.logredact import redact_text
from leadpost.vendors.chart import posts_chart
from leadpost.vendors.counts import CHART_RESULTS, REFUSED, Counts
from leadpost.vendors.figures import (
    PERIODS,
    Period,
    PeriodError,
    Report,
    VendorFigures,
    parse_period,
    report,
)
from leadpost.vendors.present import csv_lines, warnings_csv_lines

TITLE = "Vendor performance"
NEEDED = Permission.VIEW_POST_LOG
# A label is at most 200 characters when saved through a form; shown cut, whatever was stored.
LABEL_SHOWN = 120
# Longer than any id a row can have (a bigint): refused before it reaches the database.
MAX_ID_DIGITS = 18


def _printable(text: str, limit: int = LABEL_SHOWN) -> str:
    """A vendor's label as a page shows it: control characters (a NUL stored on SQLite) made
    visible as U+FFFD, cut to `limit`; the template escapes the rest."""
    kept = "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in text[: limit + 1])
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def millis(value: float | None) -> str:
    return "—" if value is None else f"{value:g} ms"


def dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


# --- who may read, and what period ---------------------------------------------------------


def account_reader(
    request: HttpRequest, title: str, needed: Permission
) -> tuple[Account, bool] | HttpResponse:
    """The user's account and whether they see Sales Record mode posts, or the 403 page of a
    page titled `title` that needs `needed` (these pages and the returns report alike)."""
    user = staff_user(request)
    if user.account is None:
        # An operator belongs to no account, and these pages are one account's.
        context = {**staff_site.each_context(request), "title": title}
        return TemplateResponse(request, "staff/vendors/operator.html", context, status=403)
    if not user.has_account_permission(needed):
        return staff_site.forbidden(request, title, needed.label)
    return user.account, user.has_account_permission(Permission.SALES_ENABLEMENT)


def _reader(request: HttpRequest) -> tuple[Account, bool] | HttpResponse:
    return account_reader(request, TITLE, NEEDED)


def _period_query(period: Period) -> str:
    """The query string naming `period`, made from the parsed period, not what the user typed."""
    if period.name == "dates":
        return urlencode({"from": period.first.isoformat(), "to": period.last.isoformat()})
    return urlencode({"period": period.name})


def _period_context(account: Account, period: Period | None, error: str = "") -> dict[str, Any]:
    chosen = period.name if period is not None else ""
    today = account.local_date(timezone.now())
    return {
        "periods": [(key, label, key == chosen) for key, label in PERIODS.items()],
        "period": period,
        "period_error": error,
        "period_query": _period_query(period) if period is not None else "",
        "date_from": period.first.isoformat() if period is not None else "",
        "date_to": period.last.isoformat() if period is not None else "",
        "today": today.isoformat(),
        # Not "time_zone": the admin's base template sets that name to the server's.
        "account_time_zone": account.time_zone,
        "now": timezone.now(),
    }


def _bad_period(
    request: HttpRequest, account: Account, error: PeriodError, **context: Any
) -> HttpResponse:
    """The page without figures, saying in words what is wrong with the period asked for."""
    page = {
        **staff_site.each_context(request),
        "title": context.pop("title", TITLE),
        **_period_context(account, None, str(error)),
        **context,
    }
    return TemplateResponse(request, "staff/vendors/bad_period.html", page, status=400)


# --- what a page shows of some counts -------------------------------------------------------


def figures_row(counts: Counts, *, priced: bool) -> dict[str, Any]:
    """A URL's (or the total's) figures as the pages show them."""
    return {
        "posts": counts.posts,
        "created": counts.created,
        "duplicate": counts.duplicate,
        "duplicate_rate": percent(counts.rate(counts.duplicate)),
        "rejected": counts.rejected,
        "rejected_rate": percent(counts.rate(counts.rejected)),
        "refused": counts.refused,
        "over_cap": counts.over_cap,
        "dry_runs": counts.dry_runs,
        "median": millis(counts.median_ms),
        "p95": millis(counts.p95_ms),
        "attachments_stored": counts.attachments_stored,
        "attachments_failed": counts.attachments_failed,
        "spend": dollars(counts.spend_cents) if priced else "",
        "possible_duplicates": counts.possible_duplicates,
    }


def _refused_by(counts: Counts) -> list[tuple[str, int]]:
    labels = dict(PostResult.choices)
    return [(labels[r], counts.results[r]) for r in sorted(REFUSED) if counts.results[r]]


def _warnings(counts: Counts) -> list[dict[str, Any]]:
    return [
        {
            # Redacted when counted (counts.warning_key); again here, for rows counted before.
            "field": _printable(redact_text(name)) if name else "",
            "code": _printable(code),
            "posts": warned.posts,
            "share": percent(counts.rate(warned.posts)),
            "example": warned.example,
            "message": warned.message,
        }
        for name, code, warned in counts.warnings_table()
    ]


def _agents(counts: Counts, names: dict[str, str]) -> list[tuple[str, int]]:
    return [
        (names.get(pk) or f"(user {pk}, no longer an agent)", leads)
        for pk, leads in counts.agents.most_common()
    ]


def _account_days(found: Report) -> list[tuple[dt.date, dict[str, int]]]:
    """The whole account's posts per day by chart result: results only, not the full counts."""
    days = {day: dict.fromkeys(CHART_RESULTS, 0) for day in found.period.days}
    for vendor in found.vendors:
        for day, counts in vendor.days.items():
            for result, count in counts.by_chart_result().items():
                days[day][result] += count
    return list(days.items())


def _vendor_days(vendor: VendorFigures) -> list[tuple[dt.date, dict[str, int]]]:
    return [(day, counts.by_chart_result()) for day, counts in vendor.days.items()]


def csv_download(lines: Any, name: str) -> HttpResponse:
    # The file's name is made of ids and dates only: nothing the user or a vendor typed. The
    # byte-order mark makes spreadsheets (Excel above all) read the file as UTF-8, so a vendor's
    # label with accents opens as written; the read API's CSV, for programs, has none.
    response = HttpResponse("\ufeff" + "".join(lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _file_period(period: Period) -> str:
    return f"{period.first.isoformat()}-to-{period.last.isoformat()}"


# --- the account's vendors ------------------------------------------------------------------


def _account_report(request: HttpRequest) -> tuple[Account, Report] | HttpResponse:
    reader = _reader(request)
    if isinstance(reader, HttpResponse):
        return reader
    account, sales_visible = reader
    try:
        period = parse_period(account, request.GET)
    except PeriodError as error:
        return _bad_period(request, account, error, sales_visible=sales_visible)
    return account, report(account, period, sales_visible=sales_visible)


@require_safe
def vendors_page(request: HttpRequest) -> HttpResponse:
    """SPEC §13: the account's Lead Post URLs side by side over a period."""
    found = _account_report(request)
    if isinstance(found, HttpResponse):
        return found
    account, figures = found
    priced = any(v.price_cents is not None for v in figures.vendors)
    rows = [
        {
            "id": vendor.url.pk,
            "label": _printable(vendor.url.label),
            "enabled": vendor.url.enabled,
            "price": None if vendor.price_cents is None else dollars(vendor.price_cents),
            **figures_row(vendor.total, priced=vendor.price_cents is not None),
        }
        for vendor in figures.vendors
    ]
    context = {
        **staff_site.each_context(request),
        "title": TITLE,
        **_period_context(account, figures.period),
        "sales_visible": figures.sales_visible,
        "rows": rows,
        "total": figures_row(figures.total, priced=priced),
        "priced": priced,
        "chart": posts_chart(
            _account_days(figures), caption=f"All vendors' posts per day, {figures.period.label}"
        ),
    }
    return TemplateResponse(request, "staff/vendors/vendors.html", context)


@require_safe
def vendors_csv(request: HttpRequest) -> HttpResponse:
    found = _account_report(request)
    if isinstance(found, HttpResponse):
        return found
    _, figures = found
    return csv_download(csv_lines(figures), f"vendors-{_file_period(figures.period)}.csv")


# --- one Lead Post URL ----------------------------------------------------------------------


def _url_id(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > MAX_ID_DIGITS:
        raise Http404("No such Lead Post URL.")
    return int(value)


def _vendor_report(
    request: HttpRequest, url_id: str
) -> tuple[Report, VendorFigures] | HttpResponse:
    """One URL of the user's account and its figures; another account's is not told from none."""
    pk = _url_id(url_id)
    reader = _reader(request)
    if isinstance(reader, HttpResponse):
        return reader
    account, sales_visible = reader
    try:
        period = parse_period(account, request.GET)
    except PeriodError as error:
        url = LeadPostUrl.objects.filter(account=account, pk=pk).first()
        if url is None:
            raise Http404("No such Lead Post URL.") from None
        return _bad_period(
            request,
            account,
            error,
            title=f"{TITLE}: {_printable(url.label)}",
            url_id=url.pk,
            sales_visible=sales_visible,
        )
    figures = report(account, period, sales_visible=sales_visible, url_id=pk)
    vendor = figures.vendor(pk)
    if vendor is None:
        raise Http404("No such Lead Post URL.")
    return figures, vendor


@require_safe
def vendor_page(request: HttpRequest, url_id: str) -> HttpResponse:
    """SPEC §13: one URL's posts per day, rates, warnings, answer times, agents and spend."""
    found = _vendor_report(request, url_id)
    if isinstance(found, HttpResponse):
        return found
    figures, vendor = found
    total = vendor.total
    priced = vendor.price_cents is not None
    label = _printable(vendor.url.label)
    context = {
        **staff_site.each_context(request),
        "title": f"{TITLE}: {label}",
        **_period_context(figures.account, figures.period),
        "sales_visible": figures.sales_visible,
        "url_id": vendor.url.pk,
        "label": label,
        "enabled": vendor.url.enabled,
        "price": dollars(vendor.price_cents) if vendor.price_cents is not None else None,
        "figures": figures_row(total, priced=priced),
        "refused_by": _refused_by(total),
        "warnings": _warnings(total),
        "agents": _agents(total, figures.agents),
        "days": [
            {"day": day, **figures_row(counts, priced=priced)}
            for day, counts in reversed(vendor.days.items())
        ],
        "chart": posts_chart(
            _vendor_days(vendor), caption=f"Posts per day by result, {figures.period.label}"
        ),
        "can_change_url": staff_user(request).has_account_permission(Permission.MANAGE_URLS),
    }
    return TemplateResponse(request, "staff/vendors/vendor.html", context)


def _vendor_csv(request: HttpRequest, url_id: str, what: str) -> HttpResponse:
    """One URL's CSV download: `what` is "days" (the days and the total) or "warnings"."""
    found = _vendor_report(request, url_id)
    if isinstance(found, HttpResponse):
        return found
    figures, vendor = found
    lines = csv_lines(figures) if what == "days" else warnings_csv_lines(vendor)
    return csv_download(lines, f"vendor-{vendor.url.pk}-{what}-{_file_period(figures.period)}.csv")


@require_safe
def vendor_days_csv(request: HttpRequest, url_id: str) -> HttpResponse:
    return _vendor_csv(request, url_id, "days")


@require_safe
def vendor_warnings_csv(request: HttpRequest, url_id: str) -> HttpResponse:
    return _vendor_csv(request, url_id, "warnings")


# --- the Lead Post URL's change page --------------------------------------------------------

TOP_WARNINGS = 3


def url_summary(request: HttpRequest, object_id: str) -> dict[str, Any]:
    """The last 7 days of a URL for its change page (issue 13, item 4): nothing for a user who
    may not read the figures (no View Lead Post Log) or is no member of the URL's account."""
    user = request.user
    if not isinstance(user, User) or user.account is None:
        return {}
    if not user.has_account_permission(Permission.VIEW_POST_LOG):
        return {}
    if not object_id.isascii() or not object_id.isdigit() or len(object_id) > MAX_ID_DIGITS:
        return {}
    account = user.account
    period = parse_period(account, {})
    sales_visible = user.has_account_permission(Permission.SALES_ENABLEMENT)
    pk = int(object_id)
    vendor = report(account, period, sales_visible=sales_visible, url_id=pk).vendor(pk)
    if vendor is None:  # another account's URL, or none: the change page says so itself
        return {}
    return {
        "summary_period": period,
        "summary": figures_row(vendor.total, priced=vendor.price_cents is not None),
        "summary_warnings": _warnings(vendor.total)[:TOP_WARNINGS],
        "summary_chart": posts_chart(_vendor_days(vendor), caption="Posts per day, last 7 days"),
        "summary_link": reverse("staff:vendor", args=[pk]),
        "summary_sales_visible": sales_visible,
    }
