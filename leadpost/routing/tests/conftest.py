"""Agents who take leads: the agent e-mail tests' cast (their worker is `run_worker` of the
records tests)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from leadpost.accounts.models import Account, Permission, User
from leadpost.routing.models import AgentProfile

AgentFn = Callable[[str], User]


@pytest.fixture
def make_agent(agency: Account, staff_member: Callable[..., User]) -> AgentFn:
    """An agent of the agency, "<First> Agent", with an e-mail address, licensed in Iowa and able
    to see Sales Enablement (so they may be given Sales Records too)."""

    def _make(first: str) -> User:
        user = staff_member(
            agency,
            first.lower(),
            Permission.SALES_ENABLEMENT,
            first_name=first,
            last_name="Agent",
            email=f"{first.lower()}@agency.example",
        )
        AgentProfile.objects.create(user=user, licensed_states=["IA"])
        return user

    return _make


@pytest.fixture
def ann(make_agent: AgentFn) -> User:
    return make_agent("Ann")


@pytest.fixture
def ben(make_agent: AgentFn) -> User:
    return make_agent("Ben")
