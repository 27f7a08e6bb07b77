"""Agents who take leads and a worker to run what a post queued: the agent e-mail tests' cast."""

from __future__ import annotations

import io
import signal
from collections.abc import Callable

import pytest
from django.core.management import call_command

from leadpost.accounts.models import Account, Permission, User
from leadpost.lib.choices import RecordType
from leadpost.routing.models import AgentProfile


def run_worker() -> None:
    """Run every task queued for now with the real worker, as `leadpost worker --batch` does
    (its first sweep included); a retry queued for later stays queued."""
    # The worker installs its own SIGINT/SIGTERM handlers (graceful shutdown); give pytest back its.
    signals = [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT]
    saved = {sig: signal.getsignal(sig) for sig in signals}
    try:
        call_command(
            "worker",
            "--batch",
            "--no-startup-delay",
            "--interval",
            "0",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@pytest.fixture
def premium(agency: Account) -> Account:
    """The agency in Sales Record mode with premium Sales Workflows and routing."""
    agency.record_mode = RecordType.SALES_RECORD
    agency.premium_workflows = True
    agency.save()
    return agency


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
