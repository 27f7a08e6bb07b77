"""A lead post's parameters, checked and normalised without the database (SPEC §4-§8).

`parse_lead` never fails on a bad value: except for the two required names, a value that breaks its
rule is left out of the `ParsedLead` and a warning says which parameter, which rule and what was
received (SPEC §4). Rules that need the account's data (value lists, custom field types, agents)
are applied later by the action.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping

from email_validator import EmailNotValidError, validate_email

from leadpost.consent import evidence
from leadpost.intake.lead import AccountConfig, ParsedLead
from leadpost.intake.notes_parse import NOTE_PARAMETER_NAMES, is_note_parameter, parse_notes
from leadpost.lib.address import USPS_STATE_CODES, county_for_zip, state_for_zip
from leadpost.lib.choices import ListName, RecordType
from leadpost.lib.dates import parse_us_date
from leadpost.lib.phone import normalise_us_phone
from leadpost.lib.problems import MAX_NAMED_WARNINGS, Problem, counted, quoted
from leadpost.lib.ssn import normalise_ssn
from leadpost.lib.text import list_key
from leadpost.records.inputs import AgentName

CUSTOM_PREFIX = "custom_"
MAX_LIST_VALUE = 255  # value lists and externalID are indexed columns of this size
MAX_EXTERNAL_ID = 255

# Parameters that store a normalised value in ParsedLead.fields, with the field's name.
_PHONES = {"homePhone": "home_phone", "cellPhone": "cell_phone", "businessPhone": "business_phone"}
_FREE_TEXT = {"title": "title", "leadSourceOther": "lead_source_other"}
_LISTS = {
    "status": ListName.STATUS,  # SALES_STATUS for a Sales Record: its own list (SPEC §10)
    "leadSource": ListName.LEAD_SOURCE,
    "type": ListName.TYPE,
    "projectCode": ListName.PROJECT_CODE,
}
_STREET = {"street1": "street1", "street2": "street2", "city": "city"}
_CHOICES = {"gender": ("gender", ("F", "M")), "smokerStatus": ("smoker_status", ("Y", "N"))}
# SPEC §14 consent evidence: parameter names (the first the one the vendors' scripts write, then
# its alternative), the ConsentEvidence field, the check and its rule for the warning.
_CONSENT: tuple[tuple[tuple[str, ...], str, Callable[[str], str | None], str, str], ...] = (
    (
        evidence.CERT_URL_PARAMETERS,
        "trustedform_cert_url",
        evidence.trustedform_cert_url,
        "invalid_url",
        "is not a TrustedForm certificate URL (https://cert.trustedform.com/ and the "
        "certificate id, nothing else)",
    ),
    (
        evidence.LEADID_PARAMETERS,
        "leadid_token",
        evidence.leadid_token,
        "invalid_format",
        f"is not a LeadiD token (hex digits and dashes, up to {evidence.MAX_LEADID} characters)",
    ),
    (
        ("tcpaConsentText",),
        "tcpa_consent_text",
        evidence.consent_text,
        "too_long",
        f"is over {evidence.MAX_CONSENT_TEXT:,} characters",
    ),
    (
        ("ipAddress",),
        "ip_address",
        evidence.ip_address,
        "invalid_ip",
        "is not an IPv4 or IPv6 address",
    ),
    (
        ("landingPageUrl",),
        "landing_page_url",
        evidence.landing_page_url,
        "invalid_url",
        f"is not an http:// or https:// URL of up to {evidence.MAX_LANDING_URL:,} characters",
    ),
)
CONSENT_PARAMETERS: frozenset[str] = frozenset(name for names, *_ in _CONSENT for name in names)

STANDARD_PARAMETERS: frozenset[str] = frozenset(
    {
        "firstName",
        "lastName",
        "middleInitial",
        "birthDate",
        "leadDate",
        "ssn",
        "email",
        "externalID",
        "stateAbbrev",
        "zip",
        "county",
        "servicingAgentFirstName",
        "servicingAgentLastName",
        "leadSourceAgentFirstName",
        "leadSourceAgentLastName",
        *_PHONES,
        *_FREE_TEXT,
        *_LISTS,
        *_STREET,
        *_CHOICES,
        *CONSENT_PARAMETERS,
    }
)

# The post parameter each record field comes from, to name it in a warning about the field.
FIELD_PARAMETERS: dict[str, str] = {
    "first_name": "firstName",
    "last_name": "lastName",
    "middle_initial": "middleInitial",
    "birth_date": "birthDate",
    "lead_date": "leadDate",
    "email": "email",
    "state": "stateAbbrev",
    "zip_code": "zip",
    "county": "county",
    **{key: name for name, key in _PHONES.items()},
    **{key: name for name, key in _FREE_TEXT.items()},
    **{key: name for name, key in _STREET.items()},
    **{key: name for name, (key, _options) in _CHOICES.items()},
}

# SPEC §5: Individual-only parameters, ignored with a warning in Sales Record mode.
INDIVIDUAL_ONLY: tuple[str, ...] = (
    "type",
    "projectCode",
    "leadSourceOther",
    "businessPhone",
    "leadSourceAgentFirstName",
    "leadSourceAgentLastName",
)

_ZIP = re.compile(r"([0-9]{5})(?:-?([0-9]{4}))?")

# Names vendors use in other systems' integrations, compared with punctuation and case removed.
_ALIASES = {
    "first": "firstName",
    "fname": "firstName",
    "last": "lastName",
    "lname": "lastName",
    "surname": "lastName",
    "middlename": "middleInitial",
    "mi": "middleInitial",
    "dob": "birthDate",
    "dateofbirth": "birthDate",
    "birthday": "birthDate",
    "sex": "gender",
    "smoker": "smokerStatus",
    "tobacco": "smokerStatus",
    "emailaddress": "email",
    "phone": "homePhone",
    "phonenumber": "homePhone",
    "mobile": "cellPhone",
    "mobilephone": "cellPhone",
    "workphone": "businessPhone",
    "address": "street1",
    "address1": "street1",
    "address2": "street2",
    "state": "stateAbbrev",
    "zipcode": "zip",
    "postalcode": "zip",
    "socialsecuritynumber": "ssn",
    "trustedform": "xxTrustedFormCertUrl",
    "trustedformurl": "xxTrustedFormCertUrl",
    "leadid": "leadid_token",
    "jornaya": "leadid_token",
    "tcpa": "tcpaConsentText",
    "consenttext": "tcpaConsentText",
    "ip": "ipAddress",
    "landingpage": "landingPageUrl",
}


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


_SUGGESTIONS: dict[str, str] = {
    **{_key(name): name for name in (*STANDARD_PARAMETERS, *NOTE_PARAMETER_NAMES)},
    **_ALIASES,
}


def is_known_parameter(name: str) -> bool:
    """Whether parse_lead reads `name` (a field, a `custom_<Name>` or a note parameter)."""
    return (
        name in STANDARD_PARAMETERS
        or (name.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX))
        or is_note_parameter(name)
    )


def suggest_parameter(name: str) -> str | None:
    """The parameter a vendor probably meant by an unknown `name`, if one is close."""
    if len(name) > 64:
        return None  # no real parameter is that long; difflib on it would only cost time
    key = _key(name)
    if key in _SUGGESTIONS:
        return _SUGGESTIONS[key]
    if name.lower().startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX):
        return CUSTOM_PREFIX + name[len(CUSTOM_PREFIX) :]
    close = difflib.get_close_matches(key, list(_SUGGESTIONS), n=1, cutoff=0.75)
    return _SUGGESTIONS[close[0]] if close else None


class _Parser:
    """One post being parsed: the trimmed values still to read, and the lead being filled in."""

    def __init__(self, values: dict[str, str], lead: ParsedLead, config: AccountConfig) -> None:
        self.values = values
        self.lead = lead
        self.config = config

    def warn(self, field: str | None, code: str, message: str) -> None:
        self.lead.warnings.append(Problem(field, code, message))

    def take(self, name: str) -> str | None:
        return self.values.pop(name, None)

    def checked(
        self, name: str, key: str, check: Callable[[str], object | None], code: str, rule: str
    ) -> None:
        value = self.take(name)
        if value is None:
            return
        result = check(value)
        if result is None:
            self.warn(name, code, f"{name} {quoted(value)} {rule}; not stored")
        else:
            self.lead.fields[key] = result

    def names(self) -> None:
        for name, key in (("firstName", "first_name"), ("lastName", "last_name")):
            value = self.take(name)
            if value is None:
                # SPEC §3: the only two rules that reject a post.
                self.lead.errors.append(
                    Problem(name, "required", f"{name} is required and was missing or empty")
                )
            else:
                self.lead.fields[key] = value

    def person(self) -> None:
        self.checked(
            "middleInitial",
            "middle_initial",
            _middle_initial,
            "invalid_format",
            "is not one letter (optionally followed by a period)",
        )
        for name, key in _FREE_TEXT.items():
            value = self.take(name)
            if value is not None:
                self.lead.fields[key] = value
        for name, (key, options) in _CHOICES.items():
            self.checked(
                name,
                key,
                _one_of(options),
                "invalid_choice",
                f"is not {' or '.join(options)}",
            )
        self.dates()
        ssn = self.take("ssn")
        if ssn is not None:
            self.lead.ssn = normalise_ssn(ssn)
            if self.lead.ssn is None:
                # Never the value, nor a digit example: a stored warning shaped like an SSN would
                # put one "in clear" for any scanner of the post log (SPEC §9).
                self.warn(
                    "ssn",
                    "invalid_ssn",
                    "ssn is not 9 digits written ddd-dd-dddd or ddddddddd; not stored",
                )

    def dates(self) -> None:
        received = self.config.received_on
        birth = self.take("birthDate")
        if birth is not None:
            date = parse_us_date(birth)
            if date is None:
                self.warn(
                    "birthDate",
                    "invalid_date",
                    f"birthDate {quoted(birth)} is not a real date in MM/DD/YYYY; not stored",
                )
            elif date > received:
                self.warn(
                    "birthDate",
                    "future_date",
                    f"birthDate {quoted(birth)} is after the day the lead was received "
                    f"({received:%m/%d/%Y}); not stored",
                )
            else:
                self.lead.fields["birth_date"] = date
        # SPEC §5: leadDate defaults to the day received, in the account's time zone.
        lead_date: dt.date = received
        sent = self.take("leadDate")
        if sent is not None:
            date = parse_us_date(sent)
            if date is None:
                self.warn(
                    "leadDate",
                    "invalid_date",
                    f"leadDate {quoted(sent)} is not a real date in MM/DD/YYYY; the day "
                    f"received ({received:%m/%d/%Y}) was used",
                )
            else:
                lead_date = date
        self.lead.fields["lead_date"] = lead_date

    def contact(self) -> None:
        self.checked("email", "email", _email, "invalid_email", "is not a valid email address")
        for name, key in _PHONES.items():
            self.checked(
                name,
                key,
                normalise_us_phone,
                "invalid_phone",
                "is not a valid US phone number (no extensions); stored as "
                "(319) 555-0000 when valid",
            )

    def address(self) -> None:
        state: str | None = None
        sent_state = self.take("stateAbbrev")
        if sent_state is not None:
            if sent_state.upper() in USPS_STATE_CODES:
                state = sent_state.upper()
            else:
                self.warn(
                    "stateAbbrev",
                    "invalid_choice",
                    f"stateAbbrev {quoted(sent_state)} is not a USPS state code such as IA; "
                    "not stored",
                )
        zip_code: str | None = None
        sent_zip = self.take("zip")
        if sent_zip is not None:
            match = _ZIP.fullmatch(sent_zip)
            if match is None:
                self.warn(
                    "zip",
                    "invalid_format",
                    f"zip {quoted(sent_zip)} is not 5 digits or ZIP+4 (52240 or 52240-1234); "
                    "not stored",
                )
            else:
                zip_code = match[1] + (f"-{match[2]}" if match[2] else "")
        zip_state = state_for_zip(zip_code[:5]) if zip_code else None
        if zip_code and zip_state is None and state is None:
            # Stored all the same: ZIP data lags new codes, and the format rule is met (SPEC §5).
            self.warn(
                "zip",
                "unknown_zip",
                f"zip {quoted(zip_code)} is not in the ZIP code data, so no state could be "
                "derived from it; send stateAbbrev",
            )
        elif zip_state and state and zip_state != state:
            self.warn(
                "zip",
                "zip_state_mismatch",
                f"zip {zip_code} lies in {zip_state} but stateAbbrev is {state}; both were stored",
            )
        state = state or zip_state  # SPEC §5: only the zip given, the state derives from it
        street = {name: self.take(name) for name in _STREET}
        if state is None and zip_code is None:
            dropped = [name for name, value in street.items() if value is not None]
            if dropped:
                self.warn(
                    None,
                    "address_incomplete",
                    f"{', '.join(dropped)} not stored: an address needs a valid stateAbbrev or zip",
                )
        else:
            for name, value in street.items():
                if value is not None:
                    self.lead.fields[_STREET[name]] = value
            if state is not None:
                self.lead.fields["state"] = state
            if zip_code is not None:
                self.lead.fields["zip_code"] = zip_code
        self.county(zip_code)

    def county(self, zip_code: str | None) -> None:
        county = self.take("county")
        if county is None:
            return
        if zip_code is None:
            self.warn(
                "county",
                "address_incomplete",
                f"county {quoted(county)} not stored: a county is set only with a valid zip "
                "to check it against",
            )
            return
        canonical = county_for_zip(zip_code[:5], county)
        if canonical is None:
            self.warn(
                "county",
                "county_mismatch",
                f"county {quoted(county)} is not the county of zip {zip_code[:5]}; not stored",
            )
        else:
            self.lead.fields["county"] = canonical

    def lists(self) -> None:
        external_id = self.take("externalID")
        if external_id is not None:
            if len(external_id) > MAX_EXTERNAL_ID:
                self.warn("externalID", "too_long", _too_long("externalID", external_id))
            else:
                self.lead.external_id = external_id
        for name, kind in _LISTS.items():
            value = self.take(name)
            if value is None:
                continue
            # SPEC §5: list values match ignoring extra spaces, so store them without.
            value = " ".join(value.split())
            # The matching key is stored too, and casefolding can lengthen it ("ß" -> "ss").
            if len(value) > MAX_LIST_VALUE or len(list_key(value)) > MAX_LIST_VALUE:
                self.warn(name, "too_long", _too_long(name, value))
            elif kind == ListName.STATUS and self.lead.mode == RecordType.SALES_RECORD:
                self.lead.lists[ListName.SALES_STATUS] = value
            else:
                self.lead.lists[kind] = value

    def consent(self) -> None:
        for names, key, check, code, rule in _CONSENT:
            used: tuple[str, str] | None = None
            for name in names:
                value = self.take(name)
                if value is None:
                    continue
                result = check(value)
                if result is None:
                    self.warn(name, code, f"{name} {quoted(value)} {rule}; not stored")
                elif used is None:
                    used = (name, result)
                    self.lead.consent[key] = result
                elif result != used[1]:
                    # The name the vendors' scripts write wins over its alternative.
                    self.warn(
                        name,
                        "conflicting_value",
                        f"{name} and {used[0]} were both sent, with different values; "
                        f"{used[0]} was stored",
                    )

    def agents(self) -> None:
        first = self.take("servicingAgentFirstName")
        last = self.take("servicingAgentLastName")
        if first is not None and last is None and first.casefold() == "auto":
            # SPEC §6: whether routing runs (mode, premium) is the action's decision.
            self.lead.auto_route = True
        else:
            self.lead.servicing_agent = self.agent("servicingAgent", first, last)
        self.lead.lead_source_agent = self.agent(
            "leadSourceAgent",
            self.take("leadSourceAgentFirstName"),
            self.take("leadSourceAgentLastName"),
        )

    def agent(self, prefix: str, first: str | None, last: str | None) -> AgentName | None:
        if first is not None and last is not None:
            return AgentName(first, last)
        if first is None and last is None:
            return None
        given, missing = (
            (f"{prefix}FirstName", f"{prefix}LastName")
            if last is None
            else (f"{prefix}LastName", f"{prefix}FirstName")
        )
        self.warn(
            missing,
            "agent_incomplete",
            f"{missing} is missing: an agent is matched by first and last name together, so "
            f"{given} {quoted(first or last or '')} assigned no one",
        )
        return None


def _too_long(name: str, value: str) -> str:
    key = len(list_key(value)) if name != "externalID" else 0
    size = f"{len(value):,} characters"
    if key > len(value):
        size += f" ({key:,} once case is ignored, as the list compares them)"
    return f"{name} {quoted(value)} is {size}, over {MAX_LIST_VALUE}; not stored"


def _one_of(options: tuple[str, ...]) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return value.upper() if value.upper() in options else None

    return check


def _middle_initial(value: str) -> str | None:
    letter = value[:-1] if value.endswith(".") else value
    if len(letter) != 1 or not letter.isalpha():
        return None
    upper = letter.upper()
    return upper if len(upper) == 1 else letter  # "ß".upper() is "SS"


def _email(value: str) -> str | None:
    # No DNS: a look-up per post would be slow and fail offline (SPEC §5).
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def _unknown_warnings(names: list[str]) -> list[Problem]:
    warnings = []
    for name in names[:MAX_NAMED_WARNINGS]:
        # The name only, never the value: an unknown parameter may hold anything (SPEC §9).
        suggestion = suggest_parameter(name)
        hint = f"; did you mean {suggestion}?" if suggestion else ""
        warnings.append(
            Problem(name, "unknown_parameter", f"unknown parameter {quoted(name)} ignored{hint}")
        )
    if len(names) > MAX_NAMED_WARNINGS:
        more = len(names) - MAX_NAMED_WARNINGS
        warnings.append(
            Problem(
                None,
                "unknown_parameter",
                f"{counted(more, 'more unknown parameter')} ignored (names not listed)",
            )
        )
    return warnings


def parse_lead(params: Mapping[str, str], mode: RecordType, config: AccountConfig) -> ParsedLead:
    """The lead in a post's decoded body parameters (see `form.decode_form`), with its warnings.

    Pure: no database, no request. `errors` is non-empty only when firstName or lastName is missing
    (the post is then rejected, SPEC §3).
    """
    lead = ParsedLead(mode=mode)
    values: dict[str, str] = {}
    unknown: list[str] = []
    for name, raw in params.items():
        if name in STANDARD_PARAMETERS:
            value = raw.strip()
            if value:  # SPEC §2: an empty value counts as absent
                values[name] = value
        elif name.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX):
            # SPEC §7: typed and matched against the account's definitions by the action.
            value = raw.strip()
            if value:
                lead.custom[name[len(CUSTOM_PREFIX) :]] = value
        elif not is_note_parameter(name):
            unknown.append(name)
    if mode == RecordType.SALES_RECORD:
        for name in INDIVIDUAL_ONLY:
            if values.pop(name, None) is not None:
                lead.warnings.append(
                    Problem(
                        name,
                        "ignored_in_sales_record_mode",
                        f"{name} is not used when this account's posts create Sales Records; "
                        "ignored",
                    )
                )
    parser = _Parser(values, lead, config)
    parser.names()
    parser.person()
    parser.contact()
    parser.address()
    parser.lists()
    parser.agents()
    parser.consent()
    lead.notes, note_warnings = parse_notes(params)
    lead.warnings.extend(note_warnings)
    lead.warnings.extend(_unknown_warnings(unknown))
    return lead
