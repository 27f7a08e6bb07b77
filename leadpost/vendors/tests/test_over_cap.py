"""Posts over a Lead Post URL's cap in the vendor figures (SPEC §13, §14): a result of their own,
neither a refusal nor a lead paid for, on the pages, the chart, the API and the CSVs, before and
after the roll-up."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from leadpost.accounts.models import Account, Permission
from leadpost.intake.models import LeadPostUrl
from leadpost.vendors.figures import Period, report
from leadpost.vendors.rollup import roll_up
from leadpost.vendors.tests.test_pages import chart_days, charts, rows, tooltips

FORM = "application/x-www-form-urlencoded"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def capped(client: Client, agency: Account) -> LeadPostUrl:
    """A URL capped at 2 a day and paid $10 a lead: 2 created, 3 over cap, 1 dry run over cap."""
    url, token = LeadPostUrl.issue(agency, "Capped Leads")
    url.cap_per_day = 2
    url.price_per_lead = Decimal("10.00")
    url.save()
    results = []
    for n in range(5):
        body = urlencode({"firstName": "Pat", "lastName": f"L{n}"})
        results.append(client.post(f"/leadpost/{token}", body, content_type=FORM).json()["result"])
    assert results == ["created"] * 2 + ["over_cap"] * 3
    dry = client.post(f"/leadpost/{token}/test", "firstName=A&lastName=B", content_type=FORM)
    assert dry.json()["wouldBe"] == "over_cap"
    return url


def today_of(account: Account) -> dt.date:
    return account.local_date(timezone.now())


def test_over_cap_is_counted_on_its_own_before_and_after_the_roll_up(
    agency: Account, capped: LeadPostUrl
) -> None:
    today = today_of(agency)
    live = report(agency, Period(today, today, "dates"), sales_visible=True).total
    assert (live.created, live.over_cap, live.refused, live.dry_runs) == (2, 3, 0, 1)
    assert live.posts == 5
    assert live.spend_cents == 2000  # only created leads are bought
    assert live.by_chart_result()["over_cap"] == 3
    assert roll_up(timezone.now() + dt.timedelta(days=1, minutes=11)) >= 1
    rolled = report(agency, Period(today, today, "dates"), sales_visible=True).total
    assert rolled.results == live.results and rolled.spend_cents == 2000


def test_over_cap_in_the_api_and_its_csv(
    client: Client, agency: Account, capped: LeadPostUrl, api_token: str
) -> None:
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token}"}
    body = client.get(f"/api/v1/vendors/{capped.pk}?period=today", **auth).json()
    (vendor,) = body["vendors"]
    assert (vendor["total"]["overCap"], vendor["total"]["refused"]) == (3, 0)
    assert vendor["total"]["refusedBy"] == {}
    assert vendor["days"][-1]["overCap"] == 3
    text = client.get("/api/v1/vendors?period=today&format=csv", **auth).content.decode()
    total = [r for r in csv.DictReader(io.StringIO(text)) if r["date"] == "total"]
    assert [(r["vendor"], r["over_cap"], r["created"], r["spend"]) for r in total] == [
        ("Capped Leads", "3", "2", "20.00")
    ]


def test_over_cap_on_the_staff_pages_and_chart(
    agency: Account, capped: LeadPostUrl, staff_member: Any
) -> None:
    staff = Client()
    staff.force_login(
        staff_member(agency, "vera", Permission.VIEW_POST_LOG, Permission.MANAGE_URLS)
    )
    page = staff.get("/staff/vendors/").content.decode()
    (row,) = rows(page, "vendors", "vendor")
    assert (row.cell("over-cap"), row.cell("refused"), row.cell("created")) == ("3", "0", "2")
    (chart,) = charts(page)
    assert chart_days(chart)[-1]["data-over_cap"] == "3"
    legend = [t.text for t in chart.iter(f"{SVG}text") if t.text == "over cap"]
    assert legend == ["over cap"]
    today = today_of(agency)
    assert f"{today:%b} {today.day}, {today.year}: 3 over cap" in tooltips(chart)

    vendor = staff.get(f"/staff/vendors/{capped.pk}/").content.decode()
    assert '<td class="n over-cap">3</td>' in vendor
    assert chart_days(charts(vendor)[0])[-1]["data-over_cap"] == "3"
    change = staff.get(f"/staff/intake/leadposturl/{capped.pk}/change/").content.decode()
    assert '<span class="over-cap">3</span> over cap' in change
    assert 'name="cap_per_day"' in change and 'value="2"' in change
