"""An account's settings and users never point at another account's rows (SPEC §10).

The rule lives on the models, so the operators' admin, the staff pages and code all keep it.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client

from leadpost.accounts.models import Account, SecurityGroup, User


@pytest.fixture
def operator(db: None) -> User:
    return User.objects.create_superuser("root-ops", "root-ops@leadpost.example", "pw-ops-7710x")


@pytest.fixture
def otto(other_agency: Account) -> User:
    return User.objects.create_user(
        "otto", account=other_agency, first_name="Otto", last_name="Owl"
    )


@pytest.fixture
def otter_group(other_agency: Account) -> SecurityGroup:
    return SecurityGroup.objects.create(
        account=other_agency, name="Otter Admins", manage_users=True
    )


def test_a_fallback_agent_of_another_account_is_refused(agency, otto):
    agency.fallback_agent = otto
    with pytest.raises(ValidationError, match="not a user of Hawkeye Insurance"):
        agency.full_clean()
    with pytest.raises(ValidationError, match="not a user of Hawkeye Insurance"):
        agency.save()
    assert Account.objects.get(pk=agency.pk).fallback_agent_id is None


def test_an_operator_cannot_be_a_fallback_agent(agency, operator):
    agency.fallback_agent = operator
    with pytest.raises(ValidationError, match="not a user of Hawkeye Insurance"):
        agency.save()


def test_the_own_accounts_fallback_agent_is_taken(agency, alice):
    agency.fallback_agent = alice
    agency.full_clean()
    agency.save()
    assert Account.objects.get(pk=agency.pk).fallback_agent == alice


def account_form(account: Account, fallback: User) -> dict[str, str]:
    return {
        "name": account.name,
        "time_zone": account.time_zone,
        "record_mode": account.record_mode,
        "fallback_agent": str(fallback.pk),
        "_save": "Save",
    }


@pytest.mark.parametrize("site", ["/admin/", "/staff/"])
def test_operators_pages_refuse_another_accounts_fallback_agent(
    client: Client, agency, otto, operator, site
):
    client.force_login(operator)
    response = client.post(
        f"{site}accounts/account/{agency.pk}/change/", account_form(agency, otto)
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "not a user of Hawkeye Insurance" in page or "Select a valid choice" in page
    assert Account.objects.get(pk=agency.pk).fallback_agent_id is None


def test_a_security_group_of_another_account_is_refused(agency, alice, otto, otter_group):
    with pytest.raises(ValidationError, match="another account"), transaction.atomic():
        alice.security_groups.add(otter_group)
    with pytest.raises(ValidationError, match="another account"), transaction.atomic():
        otter_group.members.add(alice)
    with pytest.raises(ValidationError, match="another account"), transaction.atomic():
        alice.security_groups.set([otter_group])
    assert not alice.security_groups.exists()
    otto.security_groups.add(otter_group)  # their own group is fine
    assert list(otter_group.members.all()) == [otto]


def test_operators_have_no_security_groups(operator, otter_group):
    with pytest.raises(ValidationError, match="another account"), transaction.atomic():
        operator.security_groups.add(otter_group)


def user_form(user: User, group: SecurityGroup) -> dict[str, object]:
    return {
        "account": str(user.account_id),
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": "",
        "is_active": "on",
        "security_groups": [group.pk],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "_save": "Save",
    }


@pytest.mark.parametrize("site", ["/admin/", "/staff/"])
def test_operators_pages_refuse_another_accounts_group_for_a_user(
    client: Client, alice, otter_group, operator, site
):
    client.force_login(operator)
    response = client.post(f"{site}accounts/user/{alice.pk}/change/", user_form(alice, otter_group))
    assert response.status_code == 200
    assert "is of another account" in response.content.decode()
    assert not alice.security_groups.exists()
