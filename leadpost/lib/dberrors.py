"""Which database errors pass and which do not (SPEC §3: a 503 is only for a passing condition)."""

from __future__ import annotations

from django.db import DatabaseError, InterfaceError, OperationalError


def is_passing(exc: BaseException) -> bool:
    """True when trying the same statement later may succeed: the database is locked, restarting,
    out of reach, or aborted a transaction to break a deadlock or a serialisation conflict.

    Everything else (a value refused, a constraint, a statement that cannot run) fails the same way
    every time: answering 503 to it would make a vendor retry a lead we will never store.
    """
    return isinstance(exc, OperationalError | InterfaceError)


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, DatabaseError) and not is_passing(exc)


def describe(exc: BaseException) -> str:
    """One line about a database error for the server log: its class and the database's own first
    line (which names the column or constraint; the logging filter masks any SSN it quotes)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first[:300]}"
