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
