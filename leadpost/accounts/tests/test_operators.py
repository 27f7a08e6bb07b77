"""Operators are never members of an account, and no staff page reaches one (SPEC §10)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client

from leadpost.accounts.models import Account, Permission, User

USERS = Permission.MANAGE_USERS
OPERATOR_PASSWORD = "pw-operator-8812k"


@pytest.fixture
def operator(db: None) -> User:
    return User.objects.create_superuser("root-ops", "root-ops@leadpost.example", OPERATOR_PASSWORD)


@pytest.mark.parametrize("flags", [{"is_superuser": True, "is_staff": True}, {"is_staff": True}])
def test_an_operator_cannot_be_a_member_of_an_account(agency: Account, flags: dict[str, bool]):
    """Superusers, and staff (who may enter the operators' admin), have no account."""
    user = User(username="root-ops", account=agency, **flags)
    with pytest.raises(ValidationError, match="never a member of an account"):
        user.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("root-ops", account=agency, **flags)


def test_an_account_member_cannot_be_made_an_operator(agency: Account, staff_member):
    manager = staff_member(agency, "mo", USERS)
    manager.is_superuser = True
    with pytest.raises(ValidationError, match="never a member of an account"):
        manager.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        manager.save()


def test_the_operators_admin_refuses_an_account_for_an_operator(
    client: Client, agency: Account, operator: User
):
    client.force_login(operator)
    response = client.post(
        f"/admin/accounts/user/{operator.pk}/change/",
        {
            "account": agency.pk,
            "username": "root-ops",
            "first_name": "",
            "last_name": "",
            "email": "root-ops@leadpost.example",
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "_save": "Save",
        },
    )
    assert response.status_code == 200
    assert "never a member of an account" in response.content.decode()
    operator.refresh_from_db()
    assert operator.account_id is None


def test_operators_staff_pages_do_not_show_or_reset_operators(
    client: Client, agency: Account, operator: User, staff_member
):
    """Operators may use the staff pages, which still never show an operator's user row."""
    other = User.objects.create_superuser("night-ops", "night@leadpost.example", "pw-night-5531v")
    member = staff_member(agency, "mo", USERS, first_name="Mo", last_name="Manager")
    client.force_login(operator)
    users = client.get("/staff/accounts/user/").content.decode()
    assert f"/staff/accounts/user/{member.pk}/change/" in users
    assert "night-ops" not in users
    assert f"/staff/accounts/user/{operator.pk}/change/" not in users
    assert client.get(f"/staff/accounts/user/{member.pk}/change/").status_code == 200
    password_page = client.get(f"/staff/accounts/user/{other.pk}/password/")
    assert password_page.status_code == 404
    reset = client.post(
        f"/staff/accounts/user/{other.pk}/password/",
        {"password1": "pw-taken-over-7781", "password2": "pw-taken-over-7781"},
    )
    assert reset.status_code == 404
    other.refresh_from_db()
    assert other.check_password("pw-night-5531v")
    change = client.get(f"/staff/accounts/user/{other.pk}/change/", follow=True)
    assert "doesn’t exist" in change.content.decode()


def test_user_managers_cannot_take_over_an_operator(
    client: Client, agency: Account, operator: User, staff_member
):
    """The reported attack: reset an operator's password on the staff site, log in at /admin/."""
    manager = staff_member(agency, "mo", USERS)
    # The reported shape: an operator's row given an account. Whether or not the database lets
    # it in, the staff pages must not reach the operator.
    try:
        with transaction.atomic():
            User.objects.filter(pk=operator.pk).update(account=agency)
    except IntegrityError:
        pass
    client.force_login(manager)
    for path in [
        f"/staff/accounts/user/{operator.pk}/password/",
        f"/staff/accounts/user/{operator.pk}/change/",
        f"/staff/accounts/user/{operator.pk}/delete/",
    ]:
        response = client.get(path, follow=True)
        assert response.status_code in (200, 404), path
        assert "root-ops" not in response.content.decode(), path
    client.post(
        f"/staff/accounts/user/{operator.pk}/password/",
        {"password1": "pw-taken-over-7781", "password2": "pw-taken-over-7781"},
    )
    client.logout()
    login = client.post(
        "/admin/login/?next=/admin/",
        {"username": "root-ops", "password": "pw-taken-over-7781", "next": "/admin/"},
    )
    assert login.status_code == 200  # the form again: the password was not changed
    operator.refresh_from_db()
    assert operator.check_password(OPERATOR_PASSWORD)


@pytest.mark.parametrize("path", ["/staff/accounts/user/add/", "change"])
def test_staff_user_forms_cannot_make_operators(
    client: Client, agency: Account, staff_member, path
):
    manager = staff_member(agency, "mo", USERS, first_name="Mo", last_name="Manager")
    data = {
        "username": "dana",
        "first_name": "Dana",
        "last_name": "Dealer",
        "email": "",
        "is_active": "on",
        "usable_password": "false",
        "security_groups": [manager.security_groups.get().pk],
        "is_superuser": "on",
        "is_staff": "on",
        "_save": "Save",
    }
    if path == "change":
        dana = User.objects.create_user("dana", account=agency)
        path = f"/staff/accounts/user/{dana.pk}/change/"
    client.force_login(manager)
    page = client.get(path).content.decode()
    assert 'name="is_superuser"' not in page and 'name="is_staff"' not in page
    response = client.post(path, data)
    assert response.status_code == 302, response.content.decode()
    dana = User.objects.get(username="dana")
    assert (dana.is_superuser, dana.is_staff, dana.account_id) == (False, False, agency.pk)


def test_operators_change_their_password_in_the_operators_admin(client: Client, operator: User):
    client.force_login(operator)
    response = client.get("/staff/password_change/")
    assert (response.status_code, response["Location"]) == (302, "/admin/password_change/")
    assert client.get("/admin/password_change/").status_code == 200


def test_an_operator_lets_one_account_post_webhooks_to_private_networks(
    client: Client, operator: User, agency: Account, other_agency: Account
):
    """SPEC §12: the switch is on the account's page of the operators' admin, and moves only it."""
    client.force_login(operator)
    page = client.get(f"/admin/accounts/account/{agency.pk}/change/")
    assert page.status_code == 200
    assert b"webhooks may reach private networks" in page.content.lower()
    answer = client.post(
        f"/admin/accounts/account/{agency.pk}/change/",
        {
            "name": agency.name,
            "time_zone": agency.time_zone,
            "record_mode": agency.record_mode,
            "fallback_agent": "",
            "duplicate_window_days": "30",
            "webhooks_allow_private": "on",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    agency.refresh_from_db()
    other_agency.refresh_from_db()
    assert agency.webhooks_allow_private
    assert not other_agency.webhooks_allow_private
