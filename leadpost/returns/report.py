"""The returns report (SPEC §14): per vendor and month, what the agency sends the vendor.

A month's report is about the leads created in that month (in the account's time zone): how many
each Lead Post URL created, which of them were returned (whenever), and the share returned. So a
month's figures are final once the last of its leads' return windows has closed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import Count

from leadpost.accounts.models import Account
from leadpost.consent.models import ClaimState
from leadpost.consent.present import evidence_of
from leadpost.intake.models import LeadPostUrl, PostLog, PostResult
from leadpost.lib.choices import RecordType
from leadpost.lib.logredact import redact_text
from leadpost.records.duplicates import MATCH_KINDS, matched_on
from leadpost.records.models import Record
from leadpost.returns.models import RecordReturn
from leadpost.vendors.present import spreadsheet_cell

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
FIRST_YEAR = 2000


class MonthError(ValueError):
    """A month the report cannot be made for, said in words."""


def parse_month(value: str | None, today: dt.date) -> dt.date:
    """The first day of the month `YYYY-MM` names; this month when none is given."""
    if not value:
        return today.replace(day=1)
    match = _MONTH.fullmatch(value)
    if match is None:
        raise MonthError("Give the month as YYYY-MM, e.g. 2026-11.")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise MonthError(f"There is no month {month:02d}: months are 01 to 12.")
    if not FIRST_YEAR <= year <= today.year + 1:
        raise MonthError(f"Choose a month from {FIRST_YEAR} to {today.year + 1}.")
    return dt.date(year, month, 1)


def next_month(first: dt.date) -> dt.date:
    return dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)


def evidence(record: Record, post: PostLog | None, *, sales_visible: bool = True) -> list[str]:
    """What backs a return up, one line each (SPEC §14): the possible-duplicate flag, the consent
    evidence and its claim, and the post's warnings (from its post-log row).

    The report goes to the vendor: the flag names the agency's own record and its date, never
    the other vendor. A flag naming a Sales Record is left out for a user who cannot see Sales
    Enablement (SPEC §10), as the record page leaves it out."""
    lines = [_consent_line(record)]
    earlier = record.duplicate_of
    if earlier is not None and (sales_visible or earlier.record_type == RecordType.INDIVIDUAL):
        kinds = ", ".join(MATCH_KINDS[k] for k in matched_on(record.duplicate_matched))
        day = earlier.created_at.astimezone(record.account.tz).date().isoformat()
        lines.insert(
            0, f"possible duplicate of record {earlier.pk}, another vendor's of {day}: same {kinds}"
        )
    if post is not None:
        for warning in post.warnings or ():
            name = warning.get("field") or "post"
            lines.append(redact_text(f"warning {name}: {warning.get('message', '')}"))
    return lines


def _consent_line(record: Record) -> str:
    consent = evidence_of(record)
    if consent is None:
        return "consent: no evidence sent"
    sent = [
        label
        for label, value in (
            ("TrustedForm certificate", consent.trustedform_cert_url),
            ("LeadiD token", consent.leadid_token),
            ("consent text", consent.tcpa_consent_text),
            ("IP address", consent.ip_address),
            ("landing page", consent.landing_page_url),
        )
        if value
    ]
    line = "consent: " + ", ".join(sent)
    if consent.claim_state:
        line += f"; TrustedForm claim {ClaimState(consent.claim_state).label}"
        if consent.claim_state == ClaimState.CLAIMED and consent.claim_expires_at:
            line += f", expires {consent.claim_expires_at.date().isoformat()}"
    return line


def _text(value: str) -> str:
    """A vendor's or a lead's text as the report shows it: tokens and SSN shapes redacted."""
    return redact_text(value)


@dataclass
class ReturnedLead:
    record_id: int
    created_at: dt.datetime
    first_name: str
    last_name: str
    reason: str
    note: str
    returned_at: dt.datetime
    returned_by: str
    evidence: list[str]


@dataclass
class VendorReturns:
    url: LeadPostUrl
    leads: int = 0
    returned: list[ReturnedLead] = field(default_factory=list)

    @property
    def share(self) -> float | None:
        return len(self.returned) / self.leads if self.leads else None


@dataclass
class ReturnsReport:
    account: Account
    month: dt.date
    sales_visible: bool
    vendors: list[VendorReturns]


def returns_report(
    account: Account, month: dt.date, *, sales_visible: bool, url_id: int | None = None
) -> ReturnsReport:
    """The month's leads and returns of every URL of `account` that had either (or of one URL).
    Sales Records are left out for users who do not see Sales Enablement (SPEC §10)."""
    tz = account.tz
    start = dt.datetime.combine(month, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(next_month(month), dt.time(), tzinfo=tz)
    records = Record.objects.filter(
        account=account, created_at__gte=start, created_at__lt=end, lead_post_url__isnull=False
    )
    if not sales_visible:
        records = records.exclude(record_type=RecordType.SALES_RECORD)
    if url_id is not None:
        records = records.filter(lead_post_url_id=url_id)
    leads = dict(
        records.order_by()
        .values_list("lead_post_url_id")
        .annotate(n=Count("id"))
        .values_list("lead_post_url_id", "n")
    )
    returns = list(
        RecordReturn.objects.filter(account=account, record__in=records)
        .select_related(
            "record__account",
            "record__consent",
            "record__duplicate_of",
            "returned_by",
        )
        .order_by("record__created_at", "record_id")
    )
    url_ids = set(leads) | {r.lead_post_url_id for r in returns}
    urls = LeadPostUrl.objects.filter(account=account, pk__in=url_ids).order_by("label", "id")
    vendors = {url.pk: VendorReturns(url, leads.get(url.pk, 0)) for url in urls}
    posts = {
        p.record_id: p
        for p in PostLog.objects.filter(
            account=account, record_id__in=[r.record_id for r in returns], result=PostResult.CREATED
        ).only("record_id", "warnings")
    }
    for ret in returns:
        record = ret.record
        vendors[ret.lead_post_url_id].returned.append(
            ReturnedLead(
                record_id=record.pk,
                created_at=record.created_at.astimezone(tz),
                first_name=_text(record.first_name),
                last_name=_text(record.last_name),
                reason=ret.get_reason_display(),
                note=_text(ret.note),
                returned_at=ret.returned_at.astimezone(tz),
                returned_by=str(ret.returned_by) if ret.returned_by else "(a user since deleted)",
                evidence=evidence(record, posts.get(record.pk), sales_visible=sales_visible),
            )
        )
    return ReturnsReport(account, month, sales_visible, list(vendors.values()))


CSV_COLUMNS = [
    "row",
    "month",
    "lead_post_url_id",
    "vendor",
    "leads",
    "returns",
    "return_share",
    "record_id",
    "created_at",
    "returned_at",
    "first_name",
    "last_name",
    "reason",
    "note",
    "returned_by",
    "evidence",
]


def csv_lines(report: ReturnsReport) -> Iterator[str]:
    """One "vendor" row per URL (its leads, returns and share), then one "return" row per
    returned record of it. Every text cell is guarded against spreadsheet formulas."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    month = f"{report.month:%Y-%m}"
    writer.writerow(CSV_COLUMNS)
    for vendor in report.vendors:
        label = _text(vendor.url.label)
        share = "" if vendor.share is None else f"{vendor.share:.4f}"
        writer.writerow(
            [spreadsheet_cell(x) for x in ("vendor", month, vendor.url.pk, label)]
            + [vendor.leads, len(vendor.returned), share]
            + [""] * 9
        )
        for lead in vendor.returned:
            writer.writerow(
                [
                    spreadsheet_cell(x)
                    for x in (
                        "return",
                        month,
                        vendor.url.pk,
                        label,
                        "",
                        "",
                        "",
                        lead.record_id,
                        lead.created_at.isoformat(timespec="seconds"),
                        lead.returned_at.isoformat(timespec="seconds"),
                        lead.first_name,
                        lead.last_name,
                        lead.reason,
                        lead.note,
                        lead.returned_by,
                        "; ".join(lead.evidence),
                    )
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
