"""The vendor figures in the read API (SPEC §13, §11): JSON or CSV, per account token.

An API token reads its whole account, Sales Record mode posts included, as it reads Sales Records
from `/api/v1/records`: a token is the account's, not a user's, and has no security groups.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase

from leadpost.records.views import BIGINT_MAX, _error, api_token_required
from leadpost.vendors import figures, present

# ASCII digits only (int() also reads other scripts' digits, "+1" and "1_0"), and no more of them
# than a BigAutoField holds, checked before anything reaches the database.
_URL_ID = re.compile(r"[0-9]{1,19}")
CSV_TYPE = "text/csv"
# The id sent is not repeated: a path segment may be a token pasted in the wrong place.
NOT_FOUND = "No such Lead Post URL in this account."
FORMATS = ("json", "csv")


def _wants_csv(request: HttpRequest) -> bool | None:
    """CSV for `format=csv`, JSON for `format=json`; without `format`, CSV when the Accept header
    asks for text/csv and not for JSON. None for any other `format`."""
    chosen = request.GET.get("format", "").strip().lower()
    if chosen:
        return None if chosen not in FORMATS else chosen == "csv"
    accepts = request.headers.get("Accept", "").lower()
    media = {part.split(";")[0].strip() for part in accepts.split(",")}
    return CSV_TYPE in media and "application/json" not in media


def _answer(request: HttpRequest, url_id: int | None, name: str) -> HttpResponseBase:
    csv = _wants_csv(request)
    if csv is None:
        return _error(400, "invalid_parameter", "`format` must be json or csv.")
    account = request.api_account  # type: ignore[attr-defined]
    try:
        period = figures.parse_period(account, request.GET)
    except figures.PeriodError as exc:
        return _error(400, "bad_period", str(exc))
    report = figures.report(account, period, sales_visible=True, url_id=url_id)
    if url_id is not None and not report.vendors:
        return _error(404, "not_found", NOT_FOUND)
    if not csv:
        return JsonResponse(present.report_json(report, days=url_id is not None))
    response = HttpResponse(
        "".join(present.csv_lines(report)), content_type=f"{CSV_TYPE}; charset=utf-8"
    )
    filename = f"{name}-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@api_token_required
def vendor_list(request: HttpRequest) -> HttpResponseBase:
    """Every Lead Post URL of the account over the period: its totals."""
    return _answer(request, None, "vendors")


@api_token_required
def vendor_detail(request: HttpRequest, url_id: str) -> HttpResponseBase:
    """One Lead Post URL over the period: its totals and a row per day."""
    if not _URL_ID.fullmatch(url_id) or not 1 <= int(url_id) <= BIGINT_MAX:
        return _error(404, "not_found", NOT_FOUND)
    return _answer(request, int(url_id), f"vendor-{int(url_id)}")
