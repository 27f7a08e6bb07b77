"""The cast every test can use: an agency with an admin and two agents, and a second agency.

Named like Healthchecks' alice/bob/charlie so a test reads as a story.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from leadpost.accounts.models import Account, ApiToken, User
from leadpost.intake.models import LeadPostUrl


@pytest.fixture
def agency(db: None) -> Account:
    return Account.objects.create(name="Hawkeye Insurance", time_zone="America/Chicago")


@pytest.fixture
def alice(agency: Account) -> User:
    return User.objects.create(
        account=agency, username="alice", first_name="Alice", last_name="Agent"
    )


@pytest.fixture
def bob(agency: Account) -> User:
    return User.objects.create(account=agency, username="bob", first_name="Bob", last_name="Broker")


@pytest.fixture
def other_agency(db: None) -> Account:
    return Account.objects.create(name="Cornbelt Mutual", time_zone="America/New_York")


@pytest.fixture
def vendor_url(agency: Account) -> tuple[LeadPostUrl, str]:
    """A Lead Post URL of the agency for the vendor Datalot, and its secret token."""
    return LeadPostUrl.issue(agency, "Datalot")


@pytest.fixture
def api_token(agency: Account) -> str:
    return ApiToken.issue(agency, "CRM")[1]


PostFn = Callable[..., Any]


@pytest.fixture
def post(client: Client, vendor_url: tuple[LeadPostUrl, str]) -> PostFn:
    """Post form fields to the agency's Datalot URL, as a vendor would."""
    token = vendor_url[1]

    def _post(
        data: dict[str, str] | list[tuple[str, str]] | None = None,
        *,
        suffix: str = "",
        **extra: Any,
    ) -> Any:
        body = urlencode(data or {})
        return client.post(
            f"/leadpost/{token}{suffix}",
            data=body,
            content_type="application/x-www-form-urlencoded",
            **extra,
        )

    return _post
