"""A new user with no security group chosen joins the account's Agents, however they are made."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from leadpost.accounts.actions import ADMINISTRATORS, AGENTS, create_account
from leadpost.accounts.models import Account, Permission, SecurityGroup, User


@pytest.fixture
def prairie(db: None) -> Account:
    return create_account("Prairie Mutual", "America/Chicago")


@pytest.fixture
def manager(prairie: Account) -> User:
    user = User.objects.create_user("mo", account=prairie, first_name="Mo", last_name="Manager")
    user.security_groups.add(SecurityGroup.objects.get(account=prairie, name=ADMINISTRATORS))
    return user


def add_form(**fields: object) -> dict[str, object]:
    return {
        "username": "dana",
        "first_name": "Dana",
        "last_name": "Dealer",
        "email": "",
        "usable_password": "false",
        "_save": "Save",
        **fields,
    }


def groups_of(username: str) -> list[str]:
    return [g.name for g in User.objects.get(username=username).security_groups.all()]


def test_the_staff_add_form_offers_the_groups_with_agents_chosen(client: Client, manager):
    client.force_login(manager)
    page = client.get("/staff/accounts/user/add/").content.decode()
    agents = SecurityGroup.objects.get(account=manager.account, name=AGENTS)
    assert 'name="security_groups"' in page
    assert f'<option value="{agents.pk}" selected>Agents</option>' in page


def test_a_user_added_on_the_staff_page_without_a_group_joins_agents(client: Client, manager):
    client.force_login(manager)
    response = client.post("/staff/accounts/user/add/", add_form())
    assert response.status_code == 302, response.content.decode()
    assert groups_of("dana") == [AGENTS]
    assert User.objects.get(username="dana").has_account_permission(Permission.SALES_ENABLEMENT)


def test_a_user_added_on_the_staff_page_gets_the_groups_chosen(client: Client, manager):
    admins = SecurityGroup.objects.get(account=manager.account, name=ADMINISTRATORS)
    client.force_login(manager)
    response = client.post("/staff/accounts/user/add/", add_form(security_groups=[admins.pk]))
    assert response.status_code == 302, response.content.decode()
    assert groups_of("dana") == [ADMINISTRATORS]


def test_a_user_made_from_the_command_line_joins_agents(prairie):
    call_command(
        "create_user",
        "--account",
        str(prairie.pk),
        "--first-name",
        "Dana",
        "--last-name",
        "Dealer",
        "--username",
        "dana",
    )
    assert groups_of("dana") == [AGENTS]


def test_a_user_added_by_an_operator_joins_agents(client: Client, prairie):
    operator = User.objects.create_superuser("root-ops", "root@leadpost.example", "pw-ops-7710x")
    client.force_login(operator)
    response = client.post("/admin/accounts/user/add/", add_form(account=str(prairie.pk)))
    assert response.status_code == 302, response.content.decode()
    assert groups_of("dana") == [AGENTS]


def test_an_account_without_an_agents_group_gets_one_for_its_new_user(
    client: Client, agency, staff_member
):
    """Accounts made before default groups existed (or that deleted theirs) still follow the rule."""
    manager = staff_member(agency, "mo", Permission.MANAGE_USERS)
    client.force_login(manager)
    response = client.post("/staff/accounts/user/add/", add_form())
    assert response.status_code == 302, response.content.decode()
    assert groups_of("dana") == [AGENTS]
    agents = SecurityGroup.objects.get(account=agency, name=AGENTS)
    assert agents.granted() == {Permission.SALES_ENABLEMENT}
