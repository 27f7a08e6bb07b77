"""The vendor figures under concurrency (SPEC §13, issue 13): 200 posts of mixed results at once
through `leadpost serve`, then the figures read through the served API and shown on the served staff
pages equal the post log's, per URL and result, live, after the roll-up and after the purge."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone

from leadpost.accounts.models import Account, Permission
from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.vendors.models import VendorDay
from leadpost.vendors.rollup import MARGIN, roll_up

pytestmark = pytest.mark.django_db(transaction=True)

# The results these posts come to, as the post log names them.
RESULTS = ("created", "duplicate", "rejected", "test", "unsupported_media_type")

Request = tuple[str, dict[str, Any]]  # (path, httpx.post keyword arguments)


def mixed_posts(datalot: str, nextgen: str) -> list[Request]:
    """200 posts over two URLs: 100 new leads, 6 leads sent 5 times each at once (one created,
    the rest duplicates, whichever URL wins), 25 rejected, 25 dry runs, 20 refused as JSON."""
    posts: list[Request] = []
    tokens = (datalot, nextgen)
    for n in range(100):
        lead = {"firstName": "Pat", "lastName": f"New{n}", "externalID": f"new-{n}"}
        if n % 4 == 0:
            lead["birthDate"] = "1980-13-45"  # kept, warned
        posts.append((f"/leadpost/{tokens[n % 2]}", {"data": lead}))
    for group in range(6):
        lead = {"firstName": "Pat", "lastName": f"Retry{group}", "externalID": f"retry-{group}"}
        posts += [(f"/leadpost/{tokens[i % 2]}", {"data": lead}) for i in range(5)]
    for n in range(25):
        posts.append((f"/leadpost/{tokens[n % 2]}", {"data": {"firstName": f"NoLast{n}"}}))
    for n in range(25):
        lead = {"firstName": "Pat", "lastName": f"Dry{n}", "externalID": f"dry-{n}"}
        posts.append((f"/leadpost/{tokens[n % 2]}/test", {"data": lead}))
    for n in range(20):
        body = {"content": '{"firstName": "Pat"}', "headers": {"Content-Type": "application/json"}}
        posts.append((f"/leadpost/{tokens[n % 2]}", body))
    assert len(posts) == 200
    return posts


def post_all(base: str, posts: list[Request]) -> list[httpx.Response]:
    """Every post at once: each on its own connection, released together."""
    start = threading.Barrier(len(posts))

    def send(request: Request) -> httpx.Response:
        path, kwargs = request
        with httpx.Client(timeout=120) as http:
            start.wait()
            return http.post(f"{base}{path}", **kwargs)

    with ThreadPoolExecutor(len(posts)) as pool:
        return list(pool.map(send, posts))


def post_log_counts(account: Account) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {}
    for url_id, result in PostLog.objects.filter(account=account).values_list(
        "lead_post_url_id", "result"
    ):
        counts.setdefault(url_id, dict.fromkeys(RESULTS, 0))[result] += 1
    return counts


def served_figures(base: str, api_token: str, first: dt.date, last: dt.date) -> Any:
    """Each URL's figures from the served read API: {url id: {result: posts}}."""
    response = httpx.get(
        f"{base}/api/v1/vendors",
        params={"from": first.isoformat(), "to": last.isoformat()},
        headers={"Authorization": f"Bearer {api_token}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    figures: dict[int, dict[str, int]] = {}
    for vendor in response.json()["vendors"]:
        total = vendor["total"]
        figures[vendor["id"]] = {
            "created": total["created"],
            "duplicate": total["duplicate"],
            "rejected": total["rejected"],
            "test": total["dryRuns"],
            "unsupported_media_type": total["refusedBy"].get("unsupported_media_type", 0),
        }
        # Nothing counted anywhere else: refused only as JSON, posts = all but dry runs.
        assert total["refused"] == figures[vendor["id"]]["unsupported_media_type"]
        assert total["posts"] == sum(figures[vendor["id"]].values()) - total["dryRuns"]
    return figures


_DAY = re.compile(r'<g class="day" ([^>]*)>')
_DATA = re.compile(r'data-([a-z_]+)="([^"]*)"')
PASSWORD = "pw-served-5521q"


def page_figures(
    base: str, url_ids: list[int], first: dt.date, last: dt.date
) -> dict[int, dict[str, int]]:
    """Each URL's posts by result as its staff page shows them: the bars of its chart, summed
    over the days, read by an agency admin logged in to the served site."""
    period = {"from": first.isoformat(), "to": last.isoformat()}
    with httpx.Client(base_url=base, timeout=60) as http:
        http.get("/staff/login/")
        logged_in = http.post(
            "/staff/login/",
            data={
                "username": "vera",
                "password": PASSWORD,
                "csrfmiddlewaretoken": http.cookies["csrftoken"],
                "next": "/staff/",
            },
        )
        assert logged_in.status_code == 302, logged_in.text
        figures: dict[int, dict[str, int]] = {}
        for url_id in url_ids:
            page = http.get(f"/staff/vendors/{url_id}/", params=period)
            assert page.status_code == 200, page.text
            days = [dict(_DATA.findall(attrs)) for attrs in _DAY.findall(page.text)]
            assert len(days) == (last - first).days + 1
            figures[url_id] = {
                result: sum(int(day[result]) for day in days)
                for result in ("created", "duplicate", "rejected", "refused", "over_cap")
            }
    return figures


def chart_results(logged: dict[int, dict[str, int]]) -> dict[int, dict[str, int]]:
    """The post log's counts as a chart's bars name them (a 415 is a refusal)."""
    return {
        url_id: {
            "created": counts["created"],
            "duplicate": counts["duplicate"],
            "rejected": counts["rejected"],
            "refused": counts["unsupported_media_type"],
            "over_cap": 0,  # these URLs have no cap
        }
        for url_id, counts in logged.items()
    }


# The test logs in over plain HTTP: cookies not marked Secure (production's are).
@pytest.mark.parametrize("served_env", [{"LEADPOST_SECURE_COOKIES": "0"}])
def test_200_concurrent_posts_are_counted_exactly(
    served: str, agency: Account, api_token: str, staff_member: Any
) -> None:
    staff_member(agency, "vera", Permission.VIEW_POST_LOG, password=PASSWORD)
    datalot, datalot_token = LeadPostUrl.issue(agency, "Datalot")
    nextgen, nextgen_token = LeadPostUrl.issue(agency, "NextGen Leads")
    # The account's day the posts are made on, and the next one: a run that crosses midnight
    # in Chicago still reads every post.
    first = agency.local_date(timezone.now())
    last = first + dt.timedelta(days=1)

    responses = post_all(served, mixed_posts(datalot_token, nextgen_token))

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 155, 400: 25, 415: 20}, statuses
    results = Counter(r.json().get("result") for r in responses if r.status_code != 415)
    assert results == {"created": 106, "duplicate": 24, "rejected": 25, "test": 25}
    logged = post_log_counts(agency)
    assert sum(sum(c.values()) for c in logged.values()) == 200
    assert set(logged) == {datalot.pk, nextgen.pk}

    # Live: counted from the post log as it is read.
    assert served_figures(served, api_token, first, last) == logged
    ids = [datalot.pk, nextgen.pk]
    assert page_figures(served, ids, first, last) == chart_results(logged)

    # The day closed and rolled up into the counters: the same figures.
    assert roll_up(timezone.now() + dt.timedelta(days=1) + MARGIN * 2) >= 1
    assert set(VendorDay.objects.values_list("lead_post_url_id", flat=True)) == {
        datalot.pk,
        nextgen.pk,
    }
    assert served_figures(served, api_token, first, last) == logged
    assert page_figures(served, ids, first, last) == chart_results(logged)

    # The post log purged: the figures stay.
    call_command("purge_post_log", days=0)
    assert not PostLog.objects.exists()
    assert served_figures(served, api_token, first, last) == logged
    assert page_figures(served, ids, first, last) == chart_results(logged)
