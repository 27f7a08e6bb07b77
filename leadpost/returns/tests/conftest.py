"""Helpers the returns tests share: a lead posted by the vendor, and a user who may return it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from leadpost.accounts.models import Account, Permission, User
from leadpost.conftest import PostFn
from leadpost.intake.models import PostLog
from leadpost.records.models import Record

LeadFn = Callable[..., Record]


@pytest.fixture
def lead(post: PostFn) -> LeadFn:
    """Post a lead as the vendor does; the record it made."""
    counter = iter(range(1, 10_000))

    def _lead(**fields: str) -> Record:
        n = next(counter)
        data = {"firstName": "Pat", "lastName": f"Lee{n}", "externalID": f"ext-{n}", **fields}
        response = post(data)
        assert response.status_code == 200, response.content
        log = PostLog.objects.get(pk=int(response["X-Lead-Post-Id"]))
        assert log.record is not None
        return log.record

    return _lead


@pytest.fixture
def manager(agency: Account, staff_member: Callable[..., User]) -> User:
    """Ada: may Manage Data & Custom Fields and see Sales Enablement."""
    return staff_member(
        agency,
        "ada",
        Permission.MANAGE_DATA,
        Permission.SALES_ENABLEMENT,
        first_name="Ada",
        last_name="Admin",
    )


def return_path(record: Record | int) -> str:
    pk = record if isinstance(record, int) else record.pk
    return f"/staff/returns/record/{pk}/"


def record_page(record: Record) -> str:
    model = "individual" if record.record_type == "individual" else "salesrecord"
    return f"/staff/records/{model}/{record.pk}/change/"


def text_of(response: Any) -> str:
    return str(response.content.decode())
