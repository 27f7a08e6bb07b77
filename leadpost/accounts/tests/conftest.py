"""Fixtures of the staff pages' tenancy tests: our agency's rows and another agency's."""

from __future__ import annotations

import pytest

from leadpost.accounts.models import Account, SecurityGroup, User
from leadpost.accounts.tests.agencies import Agency, build
from leadpost.intake.models import LeadPostUrl


@pytest.fixture
def ours(agency: Account, alice: User, vendor_url: tuple[LeadPostUrl, str]) -> Agency:
    group = SecurityGroup.objects.create(account=agency, name="Quill Agents")
    alice.security_groups.add(group)
    url, token = vendor_url
    return build(agency, token, url, word="Quill", agent=alice, group=group)


@pytest.fixture
def theirs(other_agency: Account) -> Agency:
    group = SecurityGroup.objects.create(
        account=other_agency,
        name="Otter Admins",
        sales_enablement_visible=True,
        manage_data=True,
        manage_urls=True,
        view_post_log=True,
        manage_users=True,
    )
    otto = User.objects.create_user(
        "otto", account=other_agency, first_name="Otto", last_name="Owl"
    )
    otto.security_groups.add(group)
    url, token = LeadPostUrl.issue(other_agency, "Otter Leads")
    return build(other_agency, token, url, word="Otter", agent=otto, group=group)


@pytest.fixture
def outsider(theirs: Agency) -> User:
    """A user of the other agency whose groups grant every permission."""
    return User.objects.get(username="otto")
