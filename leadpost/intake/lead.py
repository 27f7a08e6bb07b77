"""The typed values that flow from a vendor's form post to the action that stores it.

`parse.parse_lead` turns the decoded parameters into a `ParsedLead`; `actions` store it. Nothing here
touches the database or the request, so every rule of SPEC §5–§8 that can be checked without them is
tested as a plain function.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from leadpost.lib.choices import ListName, RecordType
from leadpost.lib.problems import Problem
from leadpost.records.inputs import AgentName, ParsedNote


@dataclass(slots=True)
class ParsedLead:
    """A post's parameters, normalised, with what was dropped and why."""

    mode: RecordType
    # Model field name -> normalised value, only for values that passed their rule (SPEC §4).
    fields: dict[str, object] = field(default_factory=dict)
    # The value-list entries named, in the record type's own lists (a Sales Record's status is
    # SALES_STATUS), with their text as sent, spaces collapsed.
    lists: dict[ListName, str] = field(default_factory=dict)
    servicing_agent: AgentName | None = None
    lead_source_agent: AgentName | None = None
    # servicingAgentFirstName=Auto with no last name (SPEC §6): routing decides, not a name match.
    auto_route: bool = False
    external_id: str | None = None
    # Nine digits; encrypted by the action, never logged nor shown in a repr (tracebacks).
    ssn: str | None = field(default=None, repr=False)
    custom: dict[str, str] = field(default_factory=dict)  # custom_<Name> -> trimmed value
    notes: list[ParsedNote] = field(default_factory=list)
    # SPEC §14 consent evidence that passed its checks: ConsentEvidence field -> value. Empty for
    # most posts, which then write no evidence row.
    consent: dict[str, str] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return bool(self.errors)


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """What parsing needs to know about the account, read once per post."""

    received_on: dt.date  # the day the post arrived, in the account's time zone


@dataclass(slots=True)
class DecodedForm:
    """A urlencoded body decoded into one value per name (the last one wins, SPEC §2)."""

    params: dict[str, str] = field(repr=False)  # as sent: may hold an SSN in clear
    warnings: list[Problem] = field(default_factory=list)
