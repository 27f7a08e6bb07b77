"""Fairness under concurrency (SPEC §6): the rotation survives 200 "Auto" posts at once."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from leadpost.accounts.models import User
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.choices import RecordType
from leadpost.records.models import Record
from leadpost.routing.models import AgentProfile, PoolMember, RoutingRule

pytestmark = pytest.mark.django_db(transaction=True)

POSTS = 200


def test_200_concurrent_auto_posts_split_exactly_among_4_agents(served, agency):
    agency.record_mode = RecordType.SALES_RECORD
    agency.premium_workflows = True
    agency.save()
    rule = RoutingRule.objects.create(account=agency, name="Iowa", states=["IA"])
    for i, name in enumerate(["Ann", "Ben", "Cat", "Dan"]):
        user = User.objects.create(account=agency, username=name, first_name=name, last_name="A")
        AgentProfile.objects.create(user=user, licensed_states=["IA"])
        PoolMember.objects.create(rule=rule, agent=user, order=i)
    _, token = LeadPostUrl.issue(agency, "Datalot")
    start = threading.Barrier(POSTS)

    def send(i: int) -> httpx.Response:
        body = {
            "firstName": f"Lead{i}",
            "lastName": "X",
            "servicingAgentFirstName": "Auto",
            "stateAbbrev": "IA",
            "externalID": f"auto-{i}",
        }
        with httpx.Client(timeout=120) as http:
            start.wait()
            return http.post(f"{served}/leadpost/{token}", data=body)

    with ThreadPoolExecutor(POSTS) as pool:
        responses = list(pool.map(send, range(POSTS)))

    assert Counter(r.status_code for r in responses) == {200: POSTS}
    answered = Counter(r.json()["servicingAgent"]["firstName"] for r in responses)
    assert answered == {"Ann": 50, "Ben": 50, "Cat": 50, "Dan": 50}
    stored = Counter(Record.objects.values_list("servicing_agent__first_name", flat=True))
    assert stored == answered
    assert Record.objects.filter(servicing_agent__isnull=True).count() == 0
