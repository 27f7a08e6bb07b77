"""Domain operations on records that do not depend on how the lead arrived."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Q

from leadpost.accounts.models import Account, User
from leadpost.intake.lead import AgentName, Problem
from leadpost.records.models import ListName, ListValue, list_key


def find_list_values(account: Account, wanted: Mapping[ListName, str]) -> dict[ListName, ListValue]:
    """The existing entries for `wanted` values, in one query, matched as SPEC §5 says."""
    if not wanted:
        return {}
    condition = Q()
    for name, value in wanted.items():
        condition |= Q(list_name=name, key=list_key(value))
    found = {row.list_name: row for row in ListValue.objects.filter(condition, account=account)}
    return {ListName(name): row for name, row in found.items()}


def ensure_list_values(
    account: Account, wanted: Mapping[ListName, str], found: dict[ListName, ListValue]
) -> dict[ListName, ListValue]:
    """Create the entries `found` lacks ("created when missing", SPEC §5).

    Two posts may create the same new value at once: ON CONFLICT DO NOTHING lets the second wait for
    the first and then read its row, instead of failing on the unique constraint.
    """
    missing = {name: value for name, value in wanted.items() if name not in found}
    if not missing:
        return found
    rows = [
        ListValue(account=account, list_name=name, value=value) for name, value in missing.items()
    ]
    for row in rows:
        row.value = " ".join(row.value.split())
        row.key = list_key(row.value)
    ListValue.objects.bulk_create(rows, ignore_conflicts=True)
    return {**found, **find_list_values(account, missing)}


def match_agents(
    account: Account, names: Mapping[str, AgentName]
) -> tuple[dict[str, User], list[Problem]]:
    """Match agent names to active users of the account, exactly (SPEC §6), in one query.

    `names` maps the post parameter prefix (e.g. "servicingAgent") to the name given. A name with
    no match or more than one leaves the role unassigned, warned.
    """
    if not names:
        return {}, []
    condition = Q()
    for name in names.values():
        condition |= Q(first_name=name.first, last_name=name.last)
    candidates = list(
        User.objects.filter(condition, account=account, is_active=True).only(
            "id", "first_name", "last_name", "account_id"
        )
    )
    matched: dict[str, User] = {}
    problems: list[Problem] = []
    for role, name in names.items():
        # Compared again in Python: SQLite's and PostgreSQL's `=` agree on case, but this keeps
        # the rule (exact, case-sensitive) independent of a database's collation.
        users = [u for u in candidates if u.first_name == name.first and u.last_name == name.last]
        field = f"{role}FirstName"
        if len(users) == 1:
            matched[role] = users[0]
        elif not users:
            problems.append(
                Problem(
                    field,
                    "agent_not_found",
                    f'No active user of this account is named "{name.first} {name.last}" '
                    "(names must match exactly, case included); not assigned.",
                )
            )
        else:
            problems.append(
                Problem(
                    field,
                    "agent_ambiguous",
                    f'{len(users)} active users are named "{name.first} {name.last}"; not assigned.',
                )
            )
    return matched, problems
