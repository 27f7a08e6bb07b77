"""The figures as the read API's JSON and as CSV: one description for both, and for the pages.

Only counts, rates, times, agents' names and redacted examples: no lead of anyone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from leadpost.vendors.counts import REFUSED, Counts
from leadpost.vendors.figures import Report, VendorFigures


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def counts_json(counts: Counts, agents: dict[str, str], *, priced: bool) -> dict[str, Any]:
    """What a URL's (or the account's) posts came to over some days."""
    return {
        "posts": counts.posts,
        "created": counts.created,
        "duplicate": counts.duplicate,
        "rejected": counts.rejected,
        "refused": counts.refused,
        "refusedBy": {r: counts.results[r] for r in sorted(REFUSED) if counts.results[r]},
        "overCap": counts.over_cap,
        "dryRuns": counts.dry_runs,
        "duplicateRate": _rate(counts.rate(counts.duplicate)),
        # Created records flagged as possible duplicates of another vendor's (SPEC §14).
        "possibleDuplicates": counts.possible_duplicates,
        "rejectionRate": _rate(counts.rate(counts.rejected)),
        "answerMs": {"median": counts.median_ms, "p95": counts.p95_ms, "timed": counts.answered},
        "warnings": [
            {
                "field": name or None,
                "code": code,
                "posts": warned.posts,
                "share": _rate(counts.rate(warned.posts)),
                "example": warned.example,
                "message": warned.message,
            }
            for name, code, warned in counts.warnings_table()
        ],
        "attachments": {"stored": counts.attachments_stored, "failed": counts.attachments_failed},
        "leadsPerAgent": [
            {"agentId": int(pk) if pk else None, "name": agents.get(pk, ""), "leads": n}
            for pk, n in counts.agents.most_common()
        ],
        "spend": _dollars(counts.spend_cents) if priced else None,
    }


def _chart_json(counts: Counts) -> dict[str, int]:
    """A day's posts by chart result, named as the rest of the JSON is (camelCase)."""
    return {_JSON_NAMES.get(k, k): n for k, n in counts.by_chart_result().items()}


_JSON_NAMES = {"over_cap": "overCap"}


def vendor_json(vendor: VendorFigures, report: Report, *, days: bool) -> dict[str, Any]:
    priced = vendor.price_cents is not None
    body: dict[str, Any] = {
        "id": vendor.url.pk,
        "label": vendor.url.label,
        "enabled": vendor.url.enabled,
        "pricePerLead": None if vendor.price_cents is None else _dollars(vendor.price_cents),
        "total": counts_json(vendor.total, report.agents, priced=priced),
    }
    if days:
        body["days"] = [
            {
                "date": day.isoformat(),
                **_chart_json(counts),
                "dryRuns": counts.dry_runs,
                "possibleDuplicates": counts.possible_duplicates,
            }
            for day, counts in vendor.days.items()
        ]
    return body


def report_json(report: Report, *, days: bool = False) -> dict[str, Any]:
    period = report.period
    return {
        "period": {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "name": period.name,
            "timeZone": report.account.time_zone,
        },
        "salesRecordsIncluded": report.sales_visible,
        "vendors": [vendor_json(v, report, days=days) for v in report.vendors],
    }


CSV_COLUMNS = [
    "date",
    "lead_post_url_id",
    "vendor",
    "posts",
    "created",
    "duplicate",
    "rejected",
    "refused",
    "over_cap",
    "dry_runs",
    "duplicate_rate",
    "rejection_rate",
    "answer_ms_median",
    "answer_ms_p95",
    "warned_posts_top",
    "attachments_stored",
    "attachments_failed",
    "spend",
    "possible_duplicates",
]


def spreadsheet_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a vendor's label starting with =, +, - or @ would be
    read as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_row(day: str, vendor: VendorFigures, counts: Counts) -> list[Any]:
    top = counts.warnings_table()[:1]
    warned = f"{top[0][0]} {top[0][1]}: {top[0][2].posts}" if top else ""
    return [
        spreadsheet_cell(x)
        for x in (
            day,
            vendor.url.pk,
            vendor.url.label,
            counts.posts,
            counts.created,
            counts.duplicate,
            counts.rejected,
            counts.refused,
            counts.over_cap,
            counts.dry_runs,
            "" if counts.rate(counts.duplicate) is None else f"{counts.rate(counts.duplicate):.4f}",
            "" if counts.rate(counts.rejected) is None else f"{counts.rate(counts.rejected):.4f}",
            "" if counts.median_ms is None else counts.median_ms,
            "" if counts.p95_ms is None else counts.p95_ms,
            warned,
            counts.attachments_stored,
            counts.attachments_failed,
            _dollars(counts.spend_cents) if vendor.price_cents is not None else "",
            counts.possible_duplicates,
        )
    ]


def csv_lines(report: Report) -> Iterator[str]:
    """One row per URL and day, then one per URL for the whole period (date "total")."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for vendor in report.vendors:
        for day, counts in vendor.days.items():
            writer.writerow(_csv_row(day.isoformat(), vendor, counts))
        yield flush()
    for vendor in report.vendors:
        writer.writerow(_csv_row("total", vendor, vendor.total))
    yield flush()


def warnings_csv_lines(vendor: VendorFigures) -> Iterator[str]:
    """A URL's warnings over the period: field, code, posts, share, example, message."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["field", "code", "posts", "share", "example", "message"])
    total = vendor.total
    for name, code, warned in total.warnings_table():
        share = total.rate(warned.posts)
        writer.writerow(
            [
                spreadsheet_cell(name),
                spreadsheet_cell(code),
                warned.posts,
                "" if share is None else f"{share:.4f}",
                spreadsheet_cell(warned.example),
                spreadsheet_cell(warned.message),
            ]
        )
    yield buffer.getvalue()
