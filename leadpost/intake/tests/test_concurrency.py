"""Concurrent posts through a real HTTP server and real database connections (SPEC §3).

Vendors retry on time-outs, so the same lead often arrives twice at nearly the same moment.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.records.models import ListValue, Record

pytestmark = pytest.mark.django_db(transaction=True)


def _post_all(url: str, bodies: list[dict[str, str]]) -> list[httpx.Response]:
    start = threading.Barrier(len(bodies))

    def send(body: dict[str, str]) -> httpx.Response:
        with httpx.Client(timeout=60) as http:
            start.wait()  # release every request at once
            return http.post(url, data=body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, bodies))


def test_same_external_id_at_once_makes_one_record(served, agency):
    _, token = LeadPostUrl.issue(agency, "Datalot")
    body = {"firstName": "John", "lastName": "Doe", "externalID": "retry-1", "status": "Brand New"}
    responses = _post_all(f"{served}/leadpost/{token}", [body] * 8)

    assert [r.status_code for r in responses] == [200] * 8
    results = sorted(r.json()["result"] for r in responses)
    assert results == ["created"] + ["duplicate"] * 7
    assert len({r.json()["recordId"] for r in responses}) == 1
    assert Record.objects.count() == 1
    assert PostLog.objects.count() == 8
    assert ListValue.objects.filter(value="Brand New").count() == 1


def test_new_list_value_posted_at_once_is_created_once(served, agency):
    _, token = LeadPostUrl.issue(agency, "Datalot")
    bodies = [
        {"firstName": f"N{i}", "lastName": "X", "leadSource": "Fresh Vendor"} for i in range(8)
    ]
    responses = _post_all(f"{served}/leadpost/{token}", bodies)
    assert [r.json()["result"] for r in responses] == ["created"] * 8
    assert ListValue.objects.filter(value="Fresh Vendor").count() == 1
    assert Record.objects.filter(lead_source__value="Fresh Vendor").count() == 8


def test_a_cap_of_100_holds_against_300_posts_at_once(served, agency):
    """SPEC §14: exactly the cap's records, every other post answered over_cap and logged, while
    an uncapped URL's posts at the same moment are all stored."""
    capped, capped_token = LeadPostUrl.issue(agency, "Capped vendor")
    capped.cap_per_day = 100
    capped.save(update_fields=["cap_per_day"])
    free, free_token = LeadPostUrl.issue(agency, "Uncapped vendor")
    posts = [(capped_token, n) for n in range(300)] + [(free_token, n) for n in range(40)]
    start = threading.Barrier(len(posts))

    def send(post: tuple[str, int]) -> httpx.Response:
        token, n = post
        with httpx.Client(timeout=120) as http:
            start.wait()
            return http.post(
                f"{served}/leadpost/{token}", data={"firstName": "Pat", "lastName": f"L{n}"}
            )

    with ThreadPoolExecutor(len(posts)) as pool:
        responses = list(pool.map(send, posts))

    to_capped, to_free = responses[:300], responses[300:]
    answered = sorted((r.status_code, r.json()["result"]) for r in to_capped)
    assert answered == [(200, "created")] * 100 + [(429, "over_cap")] * 200
    assert all(int(r.headers["Retry-After"]) > 0 for r in to_capped if r.status_code == 429)
    assert [r.json()["result"] for r in to_free] == ["created"] * 40
    assert Record.objects.filter(lead_post_url=capped).count() == 100
    assert Record.objects.filter(lead_post_url=free).count() == 40
    logged = sorted(PostLog.objects.filter(lead_post_url=capped).values_list("result", flat=True))
    assert logged == ["created"] * 100 + ["over_cap"] * 200
