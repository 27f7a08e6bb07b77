"""Logins are throttled per user name and per client address; passwords pass validation (SPEC §10).

The limits are the defaults: 5 failures per user name and 30 per address in 15 minutes.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client

from leadpost.accounts.actions import create_account
from leadpost.accounts.models import Account, Permission, User

PASSWORD = "pw-erin-5520q"
THROTTLED = "Too many failed logins; try again in 15 minutes."
WRONG = "Please enter the correct username and password"
SITES = {"staff": "/staff/", "operators": "/admin/"}


@pytest.fixture
def erin(agency: Account, staff_member) -> User:
    return staff_member(agency, "erin", password=PASSWORD)


@pytest.fixture
def root(db: None) -> User:
    return User.objects.create_superuser("root-ops", "root@leadpost.example", PASSWORD)


def log_in(client: Client, site: str, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        f"{SITES[site]}login/?next={SITES[site]}",
        {"username": username, "password": password, "next": SITES[site]},
        REMOTE_ADDR=address,
    )


def logged_in(response) -> bool:
    return response.status_code == 302


def user_for(site: str, erin: User, root: User) -> User:
    return erin if site == "staff" else root


@pytest.mark.parametrize("site", SITES)
def test_five_wrong_passwords_lock_the_user_name(client, site, erin, root):
    username = user_for(site, erin, root).username
    for _ in range(5):
        page = log_in(client, site, username, "wrong-password").content.decode()
        assert WRONG in page and THROTTLED not in page
    page = log_in(client, site, username, PASSWORD)
    assert not logged_in(page)
    assert THROTTLED in page.content.decode()
    # Another user name from the same address is not locked by this one's failures.
    other = "erin2" if site == "staff" else "root2"
    if site == "staff":
        User.objects.create_user(other, password=PASSWORD, account=erin.account)
    else:
        User.objects.create_superuser(other, "root2@leadpost.example", PASSWORD)
    assert logged_in(log_in(Client(), site, other, PASSWORD))


@pytest.mark.parametrize("site", SITES)
def test_the_throttled_answer_does_not_tell_whether_the_user_exists(client, site, erin, root):
    username = user_for(site, erin, root).username
    pages = {}
    for name in (username, "nobody-here"):
        for _ in range(5):
            log_in(client, site, name, "wrong-password")
        pages[name] = log_in(client, site, name, "wrong-password").content.decode()
    assert THROTTLED in pages[username]
    assert same_page(pages[username], username) == same_page(pages["nobody-here"], "nobody-here")


def same_page(page: str, username: str) -> str:
    """The page without what differs on every answer (the CSRF token) or by request (the name)."""
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)
    return page.replace(username, "NAME")


@pytest.mark.parametrize("site", SITES)
def test_thirty_failures_from_one_address_lock_the_address(client, site, erin, root):
    user = user_for(site, erin, root)
    for i in range(30):
        log_in(client, site, f"guess-{i}", "wrong-password", address="198.51.100.7")
    page = log_in(client, site, user.username, PASSWORD, address="198.51.100.7")
    assert not logged_in(page)
    assert THROTTLED in page.content.decode()
    assert logged_in(log_in(Client(), site, user.username, PASSWORD, address="203.0.113.9"))


def test_failures_count_for_the_window_they_happened_in(client, erin):
    from leadpost.accounts.models import LoginFailure

    for _ in range(5):
        log_in(client, "staff", "erin", "wrong-password")
    assert THROTTLED in log_in(client, "staff", "erin", PASSWORD).content.decode()
    # A window later (the rows are moved back in time rather than waiting 15 minutes).
    window = dt.timedelta(seconds=settings.LEADPOST_LOGIN_WINDOW_SECONDS)
    for failure in LoginFailure.objects.all():
        failure.window_start -= window
        failure.save()
    assert logged_in(log_in(client, "staff", "erin", PASSWORD))


def test_failed_user_names_are_not_stored_in_clear(client, erin):
    """Someone who types their password into the user name box must not find it in a table."""
    from leadpost.accounts.models import LoginFailure

    log_in(client, "staff", "Secret-Typed-In-Name", "wrong-password", address="198.51.100.7")
    rows = list(LoginFailure.objects.values())
    assert {row["scope"] for row in rows} == {"user", "address"}
    assert "secret-typed-in-name" not in json.dumps(rows, default=str).lower()
    assert "198.51.100.7" in {row["key"] for row in rows}


def test_create_user_refuses_a_weak_password(agency):
    account = create_account("Prairie Mutual", "America/Chicago")
    with pytest.raises(CommandError) as refused:
        call_command(
            "create_user",
            "--account",
            str(account.pk),
            "--first-name",
            "Pat",
            "--last-name",
            "Weak",
            "--username",
            "pat",
            "--password",
            "1",
        )
    message = str(refused.value)
    assert "This password is too short" in message
    assert "This password is entirely numeric" in message
    assert not User.objects.filter(username="pat").exists()


def test_create_user_takes_a_good_password(agency, client):
    account = create_account("Prairie Mutual", "America/Chicago")
    call_command(
        "create_user",
        "--account",
        str(account.pk),
        "--first-name",
        "Pat",
        "--last-name",
        "Strong",
        "--username",
        "pat",
        "--password",
        "pw-pat-9915t",
    )
    assert logged_in(log_in(client, "staff", "pat", "pw-pat-9915t"))


@pytest.mark.parametrize(
    ("password", "error"),
    [
        ("1", "This password is too short"),
        ("12345678901", "This password is entirely numeric"),
        ("password123", "This password is too common"),
        ("dana-dealer", "The password is too similar to the"),
    ],
)
def test_the_staff_add_user_form_validates_passwords(client, agency, staff_member, password, error):
    manager = staff_member(agency, "mo", Permission.MANAGE_USERS)
    client.force_login(manager)
    response = client.post(
        "/staff/accounts/user/add/",
        {
            "username": "dana-dealer",
            "first_name": "Dana",
            "last_name": "Dealer",
            "usable_password": "true",
            "password1": password,
            "password2": password,
            "_save": "Save",
        },
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not User.objects.filter(username="dana-dealer").exists()


def test_the_demo_admin_password_passes_the_validators(db, settings, capsys, client):
    settings.DEV = True
    call_command("demo", "--json")
    printed = json.loads(capsys.readouterr().out)["staff"]
    assert logged_in(log_in(client, "staff", printed["username"], printed["password"]))
    from django.contrib.auth.password_validation import validate_password

    validate_password(printed["password"], User.objects.get(username=printed["username"]))
