"""Creating accounts and their staff, the same way from the command line, the admin and the demo."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from leadpost.accounts.models import Account, SecurityGroup, User

ADMINISTRATORS = "Administrators"
AGENTS = "Agents"


def create_default_groups(account: Account) -> None:
    """Every account starts with two security groups, so staff can work at once (SPEC §10):
    administrators with every permission, and agents who see Sales Enablement (and so can be
    assigned Sales Records)."""
    SecurityGroup.objects.get_or_create(
        account=account,
        name=ADMINISTRATORS,
        defaults={
            "sales_enablement_visible": True,
            "manage_data": True,
            "manage_urls": True,
            "view_post_log": True,
            "manage_users": True,
        },
    )
    default_group(account)


def default_group(account: Account) -> SecurityGroup:
    """The group a new user joins when none is chosen: the account's Agents (made again if the
    account has none, so every way of adding a user gives the same result)."""
    group, _ = SecurityGroup.objects.get_or_create(
        account=account, name=AGENTS, defaults={"sales_enablement_visible": True}
    )
    return group


def join_groups(user: User, groups: Iterable[SecurityGroup]) -> None:
    """A new user's security groups: those chosen, or the account's default group when none is.

    The one rule for the command line, the staff Users page and the operators' admin.
    """
    chosen = list(groups)
    if not chosen and user.account is not None:
        chosen = [default_group(user.account)]
    user.security_groups.set(chosen)


@transaction.atomic
def create_account(name: str, time_zone: str, *, premium_workflows: bool = False) -> Account:
    account = Account.objects.create(
        name=name, time_zone=time_zone, premium_workflows=premium_workflows
    )
    create_default_groups(account)
    return account


@transaction.atomic
def create_user(
    account: Account,
    *,
    username: str,
    first_name: str,
    last_name: str,
    email: str = "",
    password: str | None = None,
    groups: list[str] | None = None,
) -> User:
    """A staff member; `groups` names security groups of the account (unknown names raise),
    none: the account's default group. A password must pass the validators (ValidationError)."""
    user = User(
        account=account,
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
    )
    if password:
        validate_password(password, user)  # SPEC §10: the validators' messages, if it fails
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    names = groups or []
    found = list(SecurityGroup.objects.filter(account=account, name__in=names))
    missing = set(names) - {g.name for g in found}
    if missing:
        raise SecurityGroup.DoesNotExist(
            f"No security group named {', '.join(sorted(missing))} in {account.name}"
        )
    join_groups(user, found)
    return user
