"""Domain operations on records that do not depend on how the lead arrived.

The reads (`find_*`) are separate from the rules that apply to what they found (`match_agents`,
`check_custom_values`), so a caller that keeps an account's rows between posts (intake/config.py)
applies the same rules to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db.models import Exists, OuterRef, Q

from leadpost.accounts.models import Account, SecurityGroup, User
from leadpost.lib.problems import Problem
from leadpost.records.custom_fields import CheckedValue, CustomValueError, check_value
from leadpost.records.inputs import AgentName
from leadpost.records.models import (
    CustomField,
    CustomFieldValue,
    ListName,
    ListValue,
    Record,
    list_key,
)


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
    account: Account, wanted: Mapping[ListName, str], found: Mapping[ListName, ListValue]
) -> dict[ListName, ListValue]:
    """Create the entries `found` lacks ("created when missing", SPEC §5).

    Two posts may create the same new value at once: ON CONFLICT DO NOTHING lets the second wait for
    the first and then read its row, instead of failing on the unique constraint.
    """
    missing = {name: value for name, value in wanted.items() if name not in found}
    if not missing:
        return dict(found)
    rows = [
        ListValue(account=account, list_name=name, value=value) for name, value in missing.items()
    ]
    for row in rows:
        row.value = " ".join(row.value.split())
        row.key = list_key(row.value)
    ListValue.objects.bulk_create(rows, ignore_conflicts=True)
    return {**found, **find_list_values(account, missing)}


# How an agent-name warning ends when nothing else assigned the record; the action that stores it
# replaces the ending with what did happen (SPEC §6: an answer never contradicts itself).
NOT_ASSIGNED = "; not assigned."
AGENT_MISS_CODES = frozenset({"agent_lacks_sales_enablement", "agent_not_found", "agent_ambiguous"})


def find_agents(account: Account, names: Iterable[AgentName]) -> dict[AgentName, list[User]]:
    """The active users of the account with each of `names`, in one query, each with
    `sees_sales` (whether a security group of theirs shows Sales Enablement)."""
    wanted = set(names)
    if not wanted:
        return {}
    condition = Q()
    for name in wanted:
        condition |= Q(first_name=name.first, last_name=name.last)
    sees_sales = SecurityGroup.objects.filter(
        members=OuterRef("pk"), account_id=account.pk, sales_enablement_visible=True
    )
    candidates = list(
        User.objects.filter(condition, account=account, is_active=True)
        .annotate(sees_sales=Exists(sees_sales))
        .only("id", "first_name", "last_name", "account_id")
    )
    # Compared again in Python: SQLite's and PostgreSQL's `=` agree on case, but this keeps the rule
    # (exact, case-sensitive) independent of a database's collation.
    return {
        name: [u for u in candidates if u.first_name == name.first and u.last_name == name.last]
        for name in wanted
    }


def match_agents(
    found: Mapping[AgentName, list[User]],
    names: Mapping[str, AgentName],
    *,
    sales_enablement: bool = False,
) -> tuple[dict[str, User], list[Problem]]:
    """Match agent names to the users `find_agents` found, exactly (SPEC §6).

    `names` maps the post parameter prefix (e.g. "servicingAgent") to the name given. A name with
    no match or more than one leaves the role unassigned, warned. With `sales_enablement` (Sales
    Record mode) the one match must also see Sales Enablement, else it is not assigned.
    """
    matched: dict[str, User] = {}
    problems: list[Problem] = []
    for role, name in names.items():
        users = found.get(name, [])
        field = f"{role}FirstName"
        if len(users) == 1 and sales_enablement and not getattr(users[0], "sees_sales", False):
            problems.append(
                Problem(
                    field,
                    "agent_lacks_sales_enablement",
                    f'"{name.first} {name.last}" cannot see Sales Enablement (no security group '
                    "grants it), so cannot be assigned Sales Records" + NOT_ASSIGNED,
                )
            )
        elif len(users) == 1:
            matched[role] = users[0]
        elif not users:
            problems.append(
                Problem(
                    field,
                    "agent_not_found",
                    f'No active user of this account is named "{name.first} {name.last}" '
                    "(names must match exactly, case included)" + NOT_ASSIGNED,
                )
            )
        else:
            problems.append(
                Problem(
                    field,
                    "agent_ambiguous",
                    f'{len(users)} active users are named "{name.first} {name.last}"'
                    + NOT_ASSIGNED,
                )
            )
    return matched, problems


def find_custom_fields(account: Account, entity_type: str) -> dict[str, CustomField]:
    """The account's active custom fields of one record type, by their exact name."""
    fields = CustomField.objects.filter(account=account, entity_type=entity_type, active=True)
    return {f.name: f for f in fields}


def check_custom_values(
    fields: Mapping[str, CustomField], entity_type: str, posted: Mapping[str, str]
) -> tuple[list[tuple[CustomField, CheckedValue]], list[Problem]]:
    """Match `custom_<Name>` values to the account's active fields and check their types (SPEC §7).

    Names match exactly, case and spaces included; an unknown name or a bad value is warned and
    ignored.
    """
    checked: list[tuple[CustomField, CheckedValue]] = []
    problems: list[Problem] = []
    for name, raw in posted.items():
        parameter = f"custom_{name}"
        custom_field = fields.get(name)
        if custom_field is None:
            problems.append(
                Problem(
                    parameter,
                    "unknown_custom_field",
                    f"This account has no active {entity_type.replace('_', ' ')} custom field "
                    f'named "{name}" (names are exact, case and spaces included); ignored.',
                )
            )
            continue
        try:
            checked.append(
                (custom_field, check_value(custom_field.field_type, raw, custom_field.options))
            )
        except CustomValueError as exc:
            shown = raw if len(raw) <= 60 else raw[:57] + "..."
            problems.append(
                Problem(
                    parameter,
                    "invalid_custom_value",
                    f'{parameter} "{shown}" {exc} ({custom_field.get_field_type_display()}); ignored.',
                )
            )
    return checked, problems


def store_custom_values(record: Record, checked: list[tuple[CustomField, CheckedValue]]) -> None:
    """Save checked values on a new record, adding posted options to their fields."""
    if not checked:
        return
    CustomFieldValue.objects.bulk_create(
        [CustomFieldValue(record=record, field=f, value=c.value) for f, c in checked]
    )
    adding = {f.pk: c.new_options for f, c in checked if c.new_options}
    if not adding:
        return
    # Read-modify-write of the options list under a row lock: two posts adding options to one
    # field at once must not lose either (SQLite serialises writers anyway).
    for custom_field in CustomField.objects.select_for_update().filter(pk__in=adding):
        known = {option.casefold() for option in custom_field.options}
        new = [o for o in adding[custom_field.pk] if o.casefold() not in known]
        if new:
            custom_field.options = [*custom_field.options, *new]
            custom_field.save(update_fields=["options"])
