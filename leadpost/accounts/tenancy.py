"""A row of one account never points at another account's rows (SPEC §10).

The models call these checks from `clean()` (so every form, the operators' admin and the staff
pages show the error on the field) and from `save()` (so commands and code keep the rule too).
Many-to-many links are added without either, so they are checked twice more: by `AccountRowsForm`
before a form saves them, and by `guard_m2m`, which refuses them whatever adds them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.signals import m2m_changed

if TYPE_CHECKING:
    from leadpost.accounts.models import Account, User


def _names(rows: Iterable[models.Model]) -> str:
    return ", ".join(f"“{row}”" for row in rows)


def foreign_rows_error(rows: list[models.Model]) -> str:
    return f"{_names(rows)} {'is' if len(rows) == 1 else 'are'} of another account."


def check_user_of(account: Account | None, user: User | None, field: str) -> None:
    """Refuse `user` for `field` unless they are a user of `account` (an operator never is)."""
    if user is None or account is None:
        return
    if user.account_id != account.pk or user.is_operator:
        raise ValidationError(
            {field: f"“{user}” is not a user of {account}: choose one of its own users."},
            code="other_account",
        )


def check_row_of(account_id: int | None, row: Any, field: str) -> None:
    """Refuse `row` (anything with an account) for `field` unless it is of `account_id`."""
    if row is None or account_id is None:
        return
    if row.account_id != account_id:
        raise ValidationError({field: foreign_rows_error([row])}, code="other_account")


def saves_any(update_fields: Iterable[str] | None, *names: str) -> bool:
    """Whether a save with `update_fields` writes any of `names` (all fields when None)."""
    return update_fields is None or bool(set(update_fields) & set(names))


def guard_m2m(relation: Any) -> None:
    """Refuse, whatever adds them, links of `relation` (e.g. `User.security_groups`) between rows
    of different accounts; a row without an account (an operator) links to none."""

    def refuse_other_accounts(
        sender: Any,
        instance: Any,
        action: str,
        model: type[models.Model],
        pk_set: set[Any] | None,
        **kwargs: Any,
    ) -> None:
        if action != "pre_add" or not pk_set:
            return
        # Both ends carry an account; `exclude` keeps rows with none, which are foreign too.
        foreign = list(
            model._default_manager.filter(pk__in=pk_set).exclude(account_id=instance.account_id)
        )
        if foreign:
            raise ValidationError(
                f"{foreign_rows_error(foreign)} It cannot be linked to “{instance}”.",
                code="other_account",
            )

    m2m_changed.connect(
        refuse_other_accounts,
        sender=relation.through,
        weak=False,
        dispatch_uid=f"same-account:{relation.through._meta.label}",
    )


class AccountRowsForm[M: models.Model](forms.ModelForm[M]):
    """A model form whose many-to-many choices must be of the row's own account.

    Many-to-many rows are saved after the model's `clean()`, so the form checks them itself;
    without it the guard above would answer a page's mistake with an error page.
    """

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if "account" in self.fields:
            if "account" not in cleaned:
                return cleaned  # the account itself is wrong: that is the error to show
            account = cleaned["account"]
            account_id = account.pk if account is not None else None
        else:
            account_id = getattr(self.instance, "account_id", None)
        for field in self.instance._meta.many_to_many:
            rows = cleaned.get(field.name)
            if field.name not in self.fields or rows is None:
                continue
            if not any(f.name == "account" for f in field.related_model._meta.get_fields()):
                continue
            foreign = [row for row in rows if row.account_id != account_id]
            if foreign:
                self.add_error(field.name, foreign_rows_error(foreign))
        return cleaned
