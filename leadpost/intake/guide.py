"""A vendor's guide to one Lead Post URL (issue 15): what to post there and what comes back.

Made from the parser's own tables (intake/parse.py, intake/notes_parse.py), so it cannot drift
from what a post does: every parameter `parse_lead` reads is listed, with the rule and an example
written here beside it; a parameter the parser knows and this module has no words for yet is
listed all the same, with a plain rule (tests/test_guide.py fails until it gets its own words).

The guide never holds a Lead Post URL's token: the URL is shown once, when issued (SPEC §9), so
the `curl` lines read it from the shell variable `LEADPOST_URL`, and run as printed once it is set.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from urllib.parse import quote_plus, urlencode

from django.conf import settings

from leadpost.accounts.models import Account
from leadpost.intake import parse
from leadpost.intake.models import LeadPostUrl
from leadpost.intake.notes_parse import (
    MAX_BODY_BYTES,
    MAX_FILES_PER_NOTE,
    MAX_NOTES,
    MAX_SUBJECT_BYTES,
    NOTE_PARAMETER_NAMES,
)
from leadpost.lib.choices import ListName, RecordType
from leadpost.lib.ssn import mask_ssn_text
from leadpost.records.custom_fields import LIST_SEPARATOR, OPTION_MAX, TEXT_FIELD_MAX
from leadpost.records.models import CustomField, FieldType, ListValue

# The shell variable the curl lines read the URL from; never the URL itself (SPEC §9).
URL_VARIABLE = "LEADPOST_URL"
URL_PLACEHOLDER = "<your Lead Post URL>"
# Value-list entries shown per list: enough to show the spelling, not a dump of the account.
LIST_VALUES_SHOWN = 20
# What a page shows of a name an agency typed (custom fields, list values, the label).
SHOWN_CHARS = 200
# An option longer than this is not used as the sample's value.
EXAMPLE_CHARS = 80
# Options shown per field: posts add options, so a field may hold thousands.
OPTIONS_SHOWN = 50


def printable(text: str, limit: int = SHOWN_CHARS) -> str:
    """Text as the guide shows it: control characters (a NUL stored on SQLite) made visible as
    U+FFFD, SSN-shaped text masked (SPEC §9: no page shows one), cut to `limit`; the template
    escapes the rest."""
    kept = "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in text[: limit + 1])
    kept = mask_ssn_text(kept)
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


def _usable_example(text: str, limit: int = EXAMPLE_CHARS) -> bool:
    """Whether a value can stand in the sample body as it is: short, printable, no SSN shape
    (the sample must post it exactly, so it cannot be cut or masked)."""
    return len(text) <= limit and printable(text, limit) == text


# The rule and an example of each parameter parse_lead reads (SPEC §5, §6), in the guide's order.
RULES: dict[str, tuple[str, str]] = {
    "firstName": ("Required. Without it the post is rejected (400).", "Jane"),
    "lastName": ("Required. Without it the post is rejected (400).", "Roe"),
    "middleInitial": ("One letter, optionally followed by a period.", "Q"),
    "title": ("Free text.", "Ms."),
    "birthDate": ("MM/DD/YYYY, a real calendar date, not in the future.", "02/14/1980"),
    "leadDate": (
        "MM/DD/YYYY, a real calendar date. When absent or invalid: the day the lead is received, "
        "in the agency's time zone.",
        "11/30/2026",
    ),
    # No digits as the example: a page never shows an SSN-shaped value (SPEC §9).
    "ssn": (
        "9 digits, written ddd-dd-dddd or ddddddddd. Stored encrypted and shown masked "
        "(***-**-1234).",
        "",
    ),
    "gender": ("F or M, either case.", "F"),
    "smokerStatus": ("Y or N, either case.", "N"),
    "email": ("A valid e-mail address (its domain is not looked up).", "jane.roe@example.com"),
    "homePhone": (
        "A valid US phone number, no extension; stored as (319) 555-0000.",
        "319-555-0100",
    ),
    "cellPhone": (
        "A valid US phone number, no extension; stored as (319) 555-0000.",
        "(319) 555-0101",
    ),
    "businessPhone": (
        "A valid US phone number, no extension; stored as (319) 555-0000.",
        "3195550102",
    ),
    "street1": (
        "Free text; kept only when the address has a valid stateAbbrev or zip.",
        "1 Main St",
    ),
    "street2": ("Free text; kept only when the address has a valid stateAbbrev or zip.", "Apt 2"),
    "city": ("Free text; kept only when the address has a valid stateAbbrev or zip.", "Iowa City"),
    "stateAbbrev": (
        "A USPS state code. When absent, derived from the zip.",
        "IA",
    ),
    "zip": ("5 digits or ZIP+4.", "52240"),
    "county": ("Kept only with a valid zip, and only when the zip lies in that county.", "Johnson"),
    "externalID": (
        "Your id for the lead, at most 255 characters; unique in this agency: posting it again "
        "answers duplicate with the first record and makes no second one (retry safely).",
        "lead-10001",
    ),
    "status": (
        "A value of the agency's status list, matched ignoring case and extra spaces; a new value "
        "is added to the list.",
        "New",
    ),
    "leadSource": (
        "A value of the agency's lead source list, matched ignoring case and extra spaces; a new "
        "value is added to the list. When absent, this URL's default lead source, if any.",
        "Web",
    ),
    "type": (
        "A value of the agency's type list, matched ignoring case and extra spaces; a new value "
        "is added to the list.",
        "Medicare",
    ),
    "projectCode": (
        "A value of the agency's project code list, matched ignoring case and extra spaces; a new "
        "value is added to the list.",
        "FALL26",
    ),
    "leadSourceOther": ("Free text.", "Spring mailer"),
    "servicingAgentFirstName": (
        "With servicingAgentLastName: the agent the lead goes to, matching an active user's "
        "first and last name exactly (case counts). No match: the lead is kept unassigned, warned.",
        "Sam",
    ),
    "servicingAgentLastName": ("With servicingAgentFirstName (see there).", "Rivera"),
    "leadSourceAgentFirstName": (
        "With leadSourceAgentLastName: the user who sourced the lead, matched like the servicing "
        "agent.",
        "Lee",
    ),
    "leadSourceAgentLastName": ("With leadSourceAgentFirstName (see there).", "Park"),
    # SPEC §14's consent evidence.
    "xxTrustedFormCertUrl": (
        "The TrustedForm certificate URL of the consumer's consent (also trustedFormCertUrl); "
        "stored as the record's consent evidence.",
        "https://cert.trustedform.com/0123456789abcdef0123456789abcdef01234567",
    ),
    "trustedFormCertUrl": ("Another name of xxTrustedFormCertUrl.", ""),
    "leadid_token": (
        "The Jornaya LeadiD token of the consumer's consent (also universal_leadid); stored as "
        "the record's consent evidence.",
        "01234567-89AB-CDEF-0123-456789ABCDEF",
    ),
    "universal_leadid": ("Another name of leadid_token.", ""),
    "tcpaConsentText": (
        "The consent wording the consumer agreed to; stored as consent evidence.",
        "By clicking Submit I agree to be contacted...",
    ),
    "ipAddress": ("The consumer's IP address; stored as consent evidence.", "203.0.113.7"),
    "landingPageUrl": (
        "The page where the consumer gave consent; stored as consent evidence.",
        "https://example.com/quote",
    ),
}

# A value list's parameter, and the list its values come from in each mode (SPEC §5, §10).
_LIST_OF: dict[str, ListName] = {
    "status": ListName.STATUS,
    "leadSource": ListName.LEAD_SOURCE,
    "type": ListName.TYPE,
    "projectCode": ListName.PROJECT_CODE,
}

# The one parameter whose rule depends on the account's mode (SPEC §6).
_AUTO_ROUTING = (
    " In this account servicingAgentFirstName=Auto with no last name starts the agency's Sales "
    "Workflows, whose Lead Routing Rules pick the agent."
)


@dataclass(frozen=True, slots=True)
class ParameterRow:
    """One parameter: its exact name, rule, example, and whether this account ignores it."""

    name: str
    rule: str
    example: str
    ignored: bool = False
    list_values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CustomRow:
    """One of the account's active custom fields, as a vendor posts it (SPEC §7)."""

    name: str  # as shown (control characters made visible)
    parameter: str  # as shown
    type_label: str
    rule: str
    options: tuple[str, ...]
    example: str
    more_options: int = 0


@dataclass(frozen=True, slots=True)
class NoteRow:
    """A note or file parameter, written with its numbers as N (note) and M (file)."""

    pattern: str
    rule: str

    def names(self) -> list[str]:
        """Every concrete parameter the pattern stands for."""
        notes = range(1, MAX_NOTES + 1)
        files = range(1, MAX_FILES_PER_NOTE + 1) if "_M" in self.pattern else range(1, 2)
        return [
            self.pattern.replace("_N", f"_{n}").replace("_M", f"_{m}") for n in notes for m in files
        ]


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer a post may get, and what the vendor should do about it."""

    status: str
    result: str
    meaning: str


@dataclass(slots=True)
class Guide:
    """Everything the guide page shows for one Lead Post URL."""

    label: str
    record_type: str
    record_type_label: str
    url_prefix: str  # at most the first characters of the token, for staff (SPEC §9)
    enabled: bool
    parameters: list[ParameterRow]
    custom: list[CustomRow]
    aliases: list[tuple[str, str]]
    notes: list[NoteRow]
    answers: list[Answer]
    sample: list[tuple[str, str]]
    max_body_bytes: int
    base_url: str = field(default_factory=lambda: settings.BASE_URL)

    @property
    def max_body_text(self) -> str:
        return f"{self.max_body_bytes:,}"

    @property
    def sample_body(self) -> str:
        return urlencode(self.sample)

    @property
    def ignored(self) -> list[ParameterRow]:
        return [row for row in self.parameters if row.ignored]

    @property
    def read(self) -> list[ParameterRow]:
        return [row for row in self.parameters if not row.ignored]

    def curl(self, *, dry_run: bool = False) -> str:
        """A curl command that posts the sample body, reading the URL from $LEADPOST_URL."""
        # ${VAR%/}: a URL copied with its trailing slash still reaches <url>/test.
        target = f'"${{{URL_VARIABLE}%/}}/test"' if dry_run else f'"${URL_VARIABLE}"'
        lines = [f"curl -sS -i {target}"]
        for name, value in self.sample:
            # curl URL-encodes only the part after "="; the name must be sent encoded already
            # (a custom field's name may hold spaces, "=" or "&").
            lines.append(f"  --data-urlencode {shlex.quote(quote_plus(name) + '=' + value)}")
        return " \\\n".join(lines)

    @property
    def curl_create(self) -> str:
        return self.curl()

    @property
    def curl_dry_run(self) -> str:
        return self.curl(dry_run=True)

    @property
    def set_url_line(self) -> str:
        return f"{URL_VARIABLE}='{URL_PLACEHOLDER}'"


def known_parameters() -> list[str]:
    """Every named parameter parse_lead reads, notes and custom fields aside, in guide order.

    The parser's own set and every name its spelling suggestions lead to: a parameter added to
    the parser (SPEC §14's consent evidence, say) is in the guide without a list of ours.
    """
    names = set(parse.STANDARD_PARAMETERS)
    names |= {
        name
        for name in parse._SUGGESTIONS.values()
        if parse.is_known_parameter(name)
        and not parse.is_note_parameter(name)
        and not name.startswith(parse.CUSTOM_PREFIX)
    }
    ordered = [name for name in RULES if name in names]
    return ordered + sorted(names - set(ordered))


def _parameter_rows(account: Account, mode: str, *, with_values: bool) -> list[ParameterRow]:
    """The parameters' rows; `with_values`: a few of the account's value-list entries each.
    Only staff see those: posts add entries, so the lists hold what other vendors sent (their
    lead sources, say), which is not one vendor's business."""
    lists: dict[str, list[str]] = {}
    wanted = {kind for kind in _LIST_OF.values()} | {ListName.SALES_STATUS}
    entries = ListValue.objects.filter(account=account, list_name__in=wanted).order_by("value")
    for entry in entries if with_values else ():
        shown = lists.setdefault(entry.list_name, [])
        if len(shown) < LIST_VALUES_SHOWN:
            shown.append(printable(entry.value, 80))
    rows = []
    for name in known_parameters():
        rule, example = RULES.get(name, ("Read by the parser; see the agency for its rule.", ""))
        ignored = mode == RecordType.SALES_RECORD and name in parse.INDIVIDUAL_ONLY
        if ignored:
            rule = "Ignored in this account (it creates Sales Records), with a warning."
        if name == "servicingAgentFirstName" and mode == RecordType.SALES_RECORD:
            rule += _AUTO_ROUTING
        kind = _LIST_OF.get(name)
        if kind == ListName.STATUS and mode == RecordType.SALES_RECORD:
            kind = ListName.SALES_STATUS  # Sales Records have their own status list
        values = tuple(lists.get(kind, ())) if kind and not ignored else ()
        rows.append(ParameterRow(name, rule, example, ignored, values))
    return rows


_TYPE_RULES: dict[str, tuple[str, str]] = {
    FieldType.TEXT_FIELD: (f"Text, at most {TEXT_FIELD_MAX} characters.", "Any text"),
    FieldType.TEXT_AREA: ("Text of any length.", "A longer text"),
    FieldType.NUMBER: ("A number; thousands separated by commas or not.", "1,250"),
    FieldType.CURRENCY: ("An amount, $ optional, at most two decimals.", "$1250.00"),
    FieldType.PERCENT: ("A number, % optional.", "12.5%"),
    FieldType.DATE: ("MM/DD/YYYY, a real calendar date.", "01/31/2026"),
    FieldType.CHECKBOX: ("1 (checked) or 0.", "1"),
    FieldType.DROPDOWN: (
        f"One option (at most {OPTION_MAX} characters), matched ignoring case; a new one is added.",
        "",
    ),
    FieldType.CHECKBOX_LIST: (
        f"Several options joined with {LIST_SEPARATOR}, matched ignoring case; new ones are added.",
        "",
    ),
}


def _custom_rows(account: Account, mode: str) -> tuple[list[CustomRow], list[tuple[str, str]]]:
    rows: list[CustomRow] = []
    sample: list[tuple[str, str]] = []
    fields = CustomField.objects.filter(account=account, entity_type=mode, active=True)
    for custom in fields.order_by("name"):
        rule, example = _TYPE_RULES.get(custom.field_type, ("See the agency.", "x"))
        options = tuple(option for option in custom.options if isinstance(option, str))
        usable = [option for option in options if _usable_example(option)]
        if custom.has_options:
            # An existing option, never a made-up one: a post adds a new value to the options.
            many = custom.field_type == FieldType.CHECKBOX_LIST
            example = LIST_SEPARATOR.join(usable[: 2 if many else 1])
        rows.append(
            CustomRow(
                name=printable(custom.name),
                parameter=printable(custom.parameter),
                type_label=str(custom.get_field_type_display()),
                rule=rule,
                options=tuple(
                    printable(option, EXAMPLE_CHARS) for option in options[:OPTIONS_SHOWN]
                ),
                more_options=max(0, len(options) - OPTIONS_SHOWN),
                example=printable(example, EXAMPLE_CHARS),
            )
        )
        if example and _usable_example(custom.parameter, SHOWN_CHARS):
            sample.append((custom.parameter, example))
    return rows, sample


_SAMPLE_NAMES = (
    "firstName",
    "lastName",
    "birthDate",
    "gender",
    "email",
    "homePhone",
    "street1",
    "city",
    "stateAbbrev",
    "zip",
)


def _notes() -> list[NoteRow]:
    return [
        NoteRow(
            "attachment_note_N_subject_text",
            f"Note N's subject (N = 1 to {MAX_NOTES}), at most {MAX_SUBJECT_BYTES:,} bytes. "
            "Subject and body are both needed, else note N and its files are skipped, warned.",
        ),
        NoteRow(
            "attachment_note_N_body_text",
            f"Note N's text, at most {MAX_BODY_BYTES:,} bytes.",
        ),
        NoteRow(
            "attachment_note_N_pinned",
            "1 pins note N (and un-pins the record's other notes; the last pinned note stays "
            "pinned); any other value does not.",
        ),
        NoteRow(
            "attach_file_to_note_N",
            "1 attaches note N's files; any other value ignores them, warned.",
        ),
        NoteRow(
            "attachment_note_N_file_name_M",
            f"File M's name (M = 1 to {MAX_FILES_PER_NOTE}), required for the file. Characters "
            'not allowed in file names (\\ / : * ? " < > |, control characters) are replaced, '
            "leading dots removed, the name cut to 255 bytes keeping its extension.",
        ),
        NoteRow(
            "attachment_note_N_file_body_M",
            "File M's content in base64 (standard or URL-safe, whitespace ignored); invalid base64 "
            "is not attached, warned. With a URL too, the body is used, warned.",
        ),
        NoteRow(
            "attachment_note_N_file_url_M",
            "Or: an http:// or https:// address the file is downloaded from, after the answer "
            "(public addresses only); the record shows whether it was stored or why not.",
        ),
    ]


def _answers(max_body: int) -> list[Answer]:
    return [
        Answer(
            "200",
            "created",
            "Stored: the record and everything in the post are committed. recordId names it; "
            "warnings name each value that was dropped and why (the lead is kept).",
        ),
        Answer(
            "200",
            "duplicate",
            "The externalID was already posted to this agency: nothing new was made; recordId is "
            "the first record. Retrying after a time-out is safe.",
        ),
        Answer(
            "200",
            "test",
            "A dry run (the URL followed by /test): checked and routed like a real post, nothing "
            "stored. wouldBe says created, duplicate or over_cap.",
        ),
        Answer(
            "400",
            "rejected",
            "firstName or lastName missing; errors says which. Nothing stored: fix and post again.",
        ),
        Answer("400", "cut_short", "The body ended before its Content-Length: post it again."),
        Answer("404", "", "Unknown or disabled URL. Ask the agency; do not retry."),
        Answer("405", "", "Not a POST (the answer carries Allow: POST)."),
        Answer("408", "timed_out", "The body did not arrive in time: post it again."),
        Answer("413", "", f"The body is over {max_body:,} bytes: not read. Send smaller files."),
        Answer(
            "415",
            "",
            "Not a form body: send Content-Type: application/x-www-form-urlencoded (UTF-8).",
        ),
        Answer(
            "429",
            "over_cap",
            "This URL's cap per day or month is reached: no record was made and the agency does "
            "not buy it. cap.resetsAt and the Retry-After header (seconds) say when the next "
            "period begins.",
        ),
        Answer(
            "429",
            "",
            "Over this URL's rate limit: wait the seconds of the Retry-After header, then post it "
            "again.",
        ),
        Answer(
            "503",
            "",
            "The service cannot store the lead right now (passing): wait the seconds of the "
            "Retry-After header, then post it again. Nothing was stored.",
        ),
    ]


def build_guide(url: LeadPostUrl, *, staff: bool) -> Guide:
    """The guide to `url` for its account as it is now. `staff` adds the token's first characters
    (SPEC §9 allows them) to tell URLs apart; the shared guide holds nothing of the token."""
    account = url.account
    mode = account.record_mode
    parameters = _parameter_rows(account, mode, with_values=staff)
    custom, custom_sample = _custom_rows(account, mode)
    read = {row.name for row in parameters if not row.ignored}
    sample = [(name, RULES[name][1]) for name in _SAMPLE_NAMES if name in read]
    # One id per URL: a vendor who runs the line twice gets `duplicate`, not a second record.
    sample.append(("externalID", f"guide-example-{url.pk}"))
    return Guide(
        label=printable(url.label),
        record_type=mode,
        record_type_label=str(RecordType(mode).label),
        url_prefix=url.prefix if staff else "",
        enabled=url.enabled,
        parameters=parameters,
        custom=custom,
        aliases=sorted((alias, target) for alias, target in parse._ALIASES.items()),
        notes=_notes(),
        answers=_answers(settings.LEADPOST_MAX_BODY_BYTES),
        sample=sample + custom_sample,
        max_body_bytes=settings.LEADPOST_MAX_BODY_BYTES,
    )


def note_parameter_names() -> frozenset[str]:
    """The note parameters the guide's patterns stand for (the parser's are NOTE_PARAMETER_NAMES)."""
    return frozenset(name for row in _notes() for name in row.names())


__all__ = ["NOTE_PARAMETER_NAMES", "Guide", "build_guide", "known_parameters"]
