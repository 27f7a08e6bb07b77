"""The typed values that flow from a vendor's form post to the action that stores it.

`parse.parse_lead` turns the decoded parameters into a `ParsedLead`; `actions` store it. Nothing here
touches the database or the request, so every rule of SPEC §5–§8 that can be checked without them is
tested as a plain function.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from leadpost.lib.ssn import mask_ssn_text

RecordMode = Literal["individual", "sales_record"]

_NINE_DIGITS_ORDINARY = frozenset({"zip", "externalID"})


@dataclass(frozen=True, slots=True)
class Problem:
    """A warning or an error about one parameter (or the post as a whole when `field` is None).

    `message` is read by vendors' developers: it names the parameter and the rule, and never repeats
    a sensitive value (SSN) back.
    """

    field: str | None
    code: str
    message: str

    def __post_init__(self) -> None:
        # Every warning and error passes here, so none repeats an SSN-shaped value in clear,
        # whichever parameter it came in (SPEC §9); nine digits are ordinary in a zip or an id.
        masked = mask_ssn_text(self.message, nine_digits=self.field not in _NINE_DIGITS_ORDINARY)
        if masked != self.message:
            object.__setattr__(self, "message", masked)
        if self.field is not None:  # an unknown parameter's name is whatever the vendor sent
            object.__setattr__(self, "field", mask_ssn_text(self.field))

    def as_json(self) -> dict[str, str | None]:
        return {"field": self.field, "code": self.code, "message": self.message}


class ListKind(StrEnum):
    """The account's value lists a post can name (SPEC §5): matched ignoring case, created when missing."""

    STATUS = "status"
    LEAD_SOURCE = "lead_source"
    TYPE = "type"
    PROJECT_CODE = "project_code"


@dataclass(frozen=True, slots=True)
class AgentName:
    first: str
    last: str


@dataclass(slots=True)
class ParsedFile:
    """One file of a note: exactly one of `content` (decoded base64) or `url` is set."""

    name: str
    content: bytes | None = None
    url: str | None = None


@dataclass(slots=True)
class ParsedNote:
    number: int  # N of attachment_note_N_*: notes are applied in this order (SPEC §8 pinning)
    subject: str
    body: str
    pinned: bool
    files: list[ParsedFile] = field(default_factory=list)


@dataclass(slots=True)
class ParsedLead:
    """A post's parameters, normalised, with what was dropped and why."""

    mode: RecordMode
    # Model field name -> normalised value, only for values that passed their rule (SPEC §4).
    fields: dict[str, object] = field(default_factory=dict)
    lists: dict[ListKind, str] = field(default_factory=dict)
    servicing_agent: AgentName | None = None
    lead_source_agent: AgentName | None = None
    # servicingAgentFirstName=Auto with no last name (SPEC §6): routing decides, not a name match.
    auto_route: bool = False
    external_id: str | None = None
    # Nine digits; encrypted by the action, never logged nor shown in a repr (tracebacks).
    ssn: str | None = field(default=None, repr=False)
    custom: dict[str, str] = field(default_factory=dict)  # custom_<Name> -> trimmed value
    notes: list[ParsedNote] = field(default_factory=list)
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
