"""Inserting one row of a model with the statement compiled once, not on every save.

`Model.save()` builds its INSERT anew on every call: for a lead post's two rows that was a fifth of
the post's time (bench/README.md). The statement here is made from the model's own field list
(the model stays the one description of its table), once per model and database, and each call
only adapts the values. It keeps what `save()` would do for these rows: each field's `pre_save`
and database preparation, columns with a database default left to the database, the primary key
read back. A model with save signals goes through `save()`, so no receiver is ever skipped.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, models
from django.db.models.signals import post_save, pre_save

_statements: dict[tuple[type[models.Model], str], tuple[str, list[models.Field[Any, Any]]]] = {}


def _statement(model: type[models.Model], using: str) -> tuple[str, list[models.Field[Any, Any]]]:
    key = (model, using)
    found = _statements.get(key)
    if found is None:
        connection = connections[using]
        qn = connection.ops.quote_name
        meta = model._meta
        pk = meta.pk
        assert pk is not None
        fields: list[models.Field[Any, Any]] = [
            f
            for f in meta.concrete_fields
            if not (f.primary_key and isinstance(f, models.AutoField)) and not f.has_db_default()
        ]
        # Names come from the model's own metadata, quoted by the backend; values are parameters.
        columns = ", ".join(qn(str(f.column)) for f in fields)
        sql = (
            f"INSERT INTO {qn(meta.db_table)} ({columns}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {qn(str(pk.column))}"
        )
        found = _statements[key] = (sql, fields)
    return found


def insert(obj: models.Model, using: str = "default") -> None:
    """INSERT `obj` as a new row and set its primary key, as `obj.save(force_insert=True)` does."""
    model = type(obj)
    connection = connections[using]
    if (
        pre_save.has_listeners(model)
        or post_save.has_listeners(model)
        or not connection.features.can_return_columns_from_insert
    ):
        obj.save(force_insert=True, using=using)
        return
    sql, fields = _statement(model, using)
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    assert row is not None
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = using
