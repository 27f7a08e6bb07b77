"""The OpenAPI 3.1 document of the service (SPEC §3, §11, §13), served at /api/v1/openapi.json.

Kept here as the Python that builds it, beside the plain Django views it describes: the lead
endpoint's form parameters come from the parser's own tables (intake/parse.py, notes_parse.py),
so a parameter the parser learns appears here without anyone editing the document, and the tests
(apidoc/tests/) hold every route of the API and every field of real answers against it.

It holds no secret and nothing of any account: the same document for everyone, readable without
a token.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from leadpost.consent.models import ClaimState
from leadpost.consent.present import CONSENT_KEYS
from leadpost.intake.guide import RULES
from leadpost.intake.notes_parse import MAX_FILES_PER_NOTE, MAX_NOTES, NOTE_PARAMETER_NAMES
from leadpost.intake.parse import (
    CUSTOM_PREFIX,
    INDIVIDUAL_ONLY,
    STANDARD_PARAMETERS,
)
from leadpost.intake.views import FORM_TYPE
from leadpost.records.duplicates import MATCH_KINDS
from leadpost.returns.models import ReturnReason
from leadpost.vendors.counts import REFUSED
from leadpost.vendors.figures import DEFAULT_PERIOD, MAX_DAYS, PERIODS

Schema = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
# What records/views.py's parse_after reads: empty, a record id, or "<txid>.<id>" (each at most
# 19 digits; one beyond 64 bits is a 400 the schema cannot express).
CURSOR_PATTERN = r"^([0-9]{1,19}(\.[0-9]{1,19})?)?$"
# firstName and lastName: values are trimmed, and an empty one counts as absent (SPEC §2).
NOT_BLANK = r"\S"
API_VERSION = "1"

# What each standard parameter means and which rule it is held to (SPEC §5, §6), with an example
# value: the vendor's guide's own words (one table for both documents).
PARAMETER_RULES = RULES

_NOTE_RULES: dict[str, str] = {
    "subject_text": "Note N's subject (at most 65,535 bytes); a note needs both subject and body.",
    "body_text": "Note N's body; a note needs both subject and body.",
    "pinned": "1 pins note N (shown first).",
    "file_name": "The name of file M of note N.",
    "file_body": "File M of note N, base64 (standard or URL-safe, padding optional).",
    "file_url": "File M of note N as an http(s) URL, downloaded after the answer.",
}


def _nullable(schema: Schema) -> Schema:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], properties: dict[str, Schema], **extra: Any) -> Schema:
    return {"type": "object", "required": required, "properties": properties, **extra}


STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
TIME: Schema = {"type": "string", "format": "date-time"}
POSSIBLE_DUPLICATES: Schema = {
    **INTEGER,
    "description": "Created records flagged as possible duplicates of another vendor's (SPEC §14).",
}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}
US_DATE: Schema = {"type": ["string", "null"], "pattern": "^[0-9]{2}/[0-9]{2}/[0-9]{4}$"}


def _note_rule(name: str) -> str:
    for part, rule in _NOTE_RULES.items():
        if part in name:
            return rule
    return "Must be 1 for note N's files to be attached (without it they are warned, not kept)."


def lead_form_schema() -> Schema:
    """The lead post's form body: every parameter the parser reads, from its own tables."""
    properties: dict[str, Schema] = {}
    for name in sorted(STANDARD_PARAMETERS, key=str.lower):
        rule, example = PARAMETER_RULES.get(name, ("See SPEC §5.", ""))
        if name in INDIVIDUAL_ONLY:
            rule += " Ignored, with a warning, when the account makes Sales Records."
        properties[name] = {"type": "string", "description": rule}
        if example:
            properties[name]["examples"] = [example]
        if name in ("firstName", "lastName"):
            properties[name]["pattern"] = NOT_BLANK
    for name in NOTE_PARAMETER_NAMES:
        properties[name] = {"type": "string", "description": _note_rule(name)}
    return {
        "type": "object",
        "required": ["firstName", "lastName"],
        "properties": properties,
        "patternProperties": {
            f"^{CUSTOM_PREFIX}.+$": {
                "type": "string",
                "description": "The account's custom field named after the prefix "
                "(`custom_<Name>`), typed by the field's definition; an unknown name is warned.",
            }
        },
        "additionalProperties": {
            "type": "string",
            "description": "Any other parameter is ignored and named in a warning (with the "
            "spelling meant, when one is close).",
        },
        "description": (
            "The AMS+ Lead POST parameters (SPEC §5-§8). Values are trimmed; an empty value "
            "counts as absent; a value that breaks its rule is dropped and warned, the lead "
            f"kept. Notes 1 to {MAX_NOTES}, files 1 to {MAX_FILES_PER_NOTE} of each. "
            "Parameters in the query string are ignored (warned)."
        ),
    }


def _components() -> dict[str, Any]:
    problem = _obj(
        ["field", "code", "message"],
        {
            "field": {
                **NULLABLE_STRING,
                "description": "The parameter concerned, as sent; null for the post as a whole.",
            },
            "code": {**STRING, "description": "Stable, for programs: e.g. `invalid_date`."},
            "message": {**STRING, "description": "For people: what was wrong and what was kept."},
        },
    )
    agent = _obj(
        ["id", "firstName", "lastName"], {"id": INTEGER, "firstName": STRING, "lastName": STRING}
    )
    routing = _obj(
        ["via", "rule", "agent", "skipped", "rulesNotMatched", "at"],
        {
            "via": {"enum": ["rule", "fallback", "none"]},
            "rule": _nullable(_obj(["id", "name"], {"id": INTEGER, "name": STRING})),
            "agent": _nullable(_ref("Agent")),
            "skipped": {
                "type": "array",
                "items": _obj(
                    ["rule", "agentId", "agent", "reason"],
                    {
                        "rule": STRING,
                        "agentId": _nullable(INTEGER),
                        "agent": STRING,
                        "reason": STRING,
                    },
                ),
            },
            "rulesNotMatched": {"type": "array", "items": STRING},
            "at": TIME,
        },
        description="How Lead Routing chose the servicing agent (SPEC §6).",
    )
    cap = _obj(
        ["period", "limit", "resetsAt"],
        {
            "period": {"enum": ["day", "month"]},
            "limit": INTEGER,
            "resetsAt": {**TIME, "description": "When the next period begins (local time)."},
        },
    )
    record_type = {"enum": ["individual", "salesRecord"]}
    warnings = {"type": "array", "items": _ref("Problem")}
    errors = {"type": "array", "items": _ref("Problem"), "minItems": 1}
    post_id = {**INTEGER, "description": "The post's entry in the post log (as X-Lead-Post-Id)."}

    def result(value: str) -> Schema:
        return {"const": value}

    lead_answers = {
        "LeadCreated": _obj(
            ["result", "postId", "recordType", "recordId", "servicingAgent", "warnings"],
            {
                "result": result("created"),
                "postId": post_id,
                "recordType": record_type,
                "recordId": INTEGER,
                "servicingAgent": _nullable(_ref("Agent")),
                "warnings": warnings,
                "routing": _ref("Routing"),
            },
            description="Stored: the record and everything in the post are committed.",
        ),
        "LeadDuplicate": _obj(
            ["result", "postId", "recordType", "recordId", "message", "warnings"],
            {
                "result": result("duplicate"),
                "postId": post_id,
                "recordType": record_type,
                "recordId": {**INTEGER, "description": "The record the externalID made."},
                "message": STRING,
                "warnings": warnings,
            },
            description="The externalID was already posted to this account: no new record.",
        ),
        "LeadTest": _obj(
            [
                "result",
                "postId",
                "recordType",
                "wouldBe",
                "recordId",
                "servicingAgent",
                "leadSourceAgent",
                "routing",
                "newListValues",
                "warnings",
            ],
            {
                "result": result("test"),
                "postId": post_id,
                "recordType": record_type,
                "wouldBe": {"enum": ["created", "duplicate", "over_cap"]},
                "recordId": {
                    **_nullable(INTEGER),
                    "description": "The existing record, when it would be a duplicate.",
                },
                "servicingAgent": _nullable(_ref("Agent")),
                "leadSourceAgent": _nullable(_ref("Agent")),
                "routing": _nullable(_ref("Routing")),
                "newListValues": {
                    "type": "array",
                    "items": _obj(["list", "value"], {"list": STRING, "value": STRING}),
                    "description": "Values a real post would add to the account's lists.",
                },
                "warnings": warnings,
                "cap": _ref("Cap"),
                "consent": {
                    **_ref("ConsentValues"),
                    "description": "The consent evidence a real post would store (SPEC §14), "
                    "when the post carries some.",
                },
            },
            description="A dry run: parsed, checked and routed as a real post; nothing stored.",
        ),
        "LeadRejected": _obj(
            ["result", "postId", "errors", "warnings"],
            {
                "result": result("rejected"),
                "postId": post_id,
                "errors": errors,
                "warnings": warnings,
            },
            description="firstName or lastName missing: no record.",
        ),
        "LeadOverCap": _obj(
            ["result", "postId", "errors", "cap"],
            {"result": result("over_cap"), "postId": post_id, "errors": errors, "cap": _ref("Cap")},
            description="The URL's cap per day or month is reached: no record (SPEC §14).",
        ),
        "LeadRefused": _obj(
            ["result", "postId", "errors"],
            {"result": result("error"), "postId": post_id, "errors": errors},
            description="Refused before the lead was read (method, size, content type, rate, a "
            "body cut short); logged against the URL, nothing stored.",
        ),
        "LeadUnknownUrl": _obj(
            ["result", "errors"],
            {"result": result("error"), "errors": errors},
            description="No enabled Lead Post URL here (unknown and disabled look the same).",
        ),
        "LeadUnavailable": _obj(
            ["result", "errors"],
            {"result": result("error"), "postId": post_id, "errors": errors},
            description="Not stored right now (a passing condition): post it again after "
            "Retry-After seconds.",
        ),
    }

    attachment = _obj(
        [
            "id",
            "fileName",
            "source",
            "sourceUrl",
            "state",
            "error",
            "attempts",
            "size",
            "sha256",
            "contentType",
            "storedAt",
            "contentUrl",
        ],
        {
            "id": INTEGER,
            "fileName": STRING,
            "source": {"enum": ["url", "body"]},
            "sourceUrl": NULLABLE_STRING,
            "state": {"enum": ["pending", "stored", "failed"]},
            "error": {**NULLABLE_STRING, "description": "Why a download failed."},
            "attempts": INTEGER,
            "size": {**_nullable(INTEGER), "description": "Bytes, once stored."},
            "sha256": NULLABLE_STRING,
            "contentType": NULLABLE_STRING,
            "storedAt": _nullable(TIME),
            "contentUrl": {
                **NULLABLE_STRING,
                "description": "The download (GET, with the token) once stored.",
            },
        },
    )
    note = _obj(
        ["id", "subject", "body", "pinned", "createdAt", "attachments"],
        {
            "id": INTEGER,
            "subject": STRING,
            "body": STRING,
            "pinned": {"type": "boolean"},
            "createdAt": TIME,
            "attachments": {"type": "array", "items": _ref("Attachment")},
        },
    )
    common = {
        "id": INTEGER,
        "recordType": record_type,
        "createdAt": TIME,
        "leadPostUrl": _nullable(
            _obj(["id", "label"], {"id": INTEGER, "label": STRING}),
        ),
        "externalID": NULLABLE_STRING,
        "firstName": STRING,
        "lastName": STRING,
        "middleInitial": NULLABLE_STRING,
        "title": NULLABLE_STRING,
        "birthDate": US_DATE,
        "leadDate": US_DATE,
        "ssn": {**NULLABLE_STRING, "description": "Masked: ***-**-1234."},
        "gender": NULLABLE_STRING,
        "smokerStatus": NULLABLE_STRING,
        "email": NULLABLE_STRING,
        "status": NULLABLE_STRING,
        "leadSource": NULLABLE_STRING,
        "homePhone": NULLABLE_STRING,
        "cellPhone": NULLABLE_STRING,
        "street1": NULLABLE_STRING,
        "street2": NULLABLE_STRING,
        "city": NULLABLE_STRING,
        "stateAbbrev": NULLABLE_STRING,
        "zip": NULLABLE_STRING,
        "county": NULLABLE_STRING,
        "servicingAgent": _nullable(_ref("Agent")),
        "routing": _nullable(_ref("Routing")),
        "possibleDuplicateOf": {
            **_nullable(
                _obj(
                    ["recordId", "recordType", "leadPostUrlId", "vendor", "createdAt", "matchedOn"],
                    {
                        "recordId": INTEGER,
                        "recordType": {"enum": ["individual", "salesRecord"]},
                        "leadPostUrlId": _nullable(INTEGER),
                        "vendor": NULLABLE_STRING,
                        "createdAt": TIME,
                        "matchedOn": {
                            "type": "array",
                            "items": {"enum": list(MATCH_KINDS)},
                            "description": "What the two leads share (never the values).",
                        },
                    },
                )
            ),
            "description": "The earlier lead of another vendor within the account's window that "
            "shares a phone, the e-mail or the SSN (SPEC §14); null if none.",
        },
    }
    individual_only = {
        "type": NULLABLE_STRING,
        "projectCode": NULLABLE_STRING,
        "leadSourceOther": NULLABLE_STRING,
        "businessPhone": NULLABLE_STRING,
        "leadSourceAgent": _nullable(_ref("Agent")),
    }
    consent_values = _obj(
        list(CONSENT_KEYS),
        {key: NULLABLE_STRING for key in CONSENT_KEYS},
        description="What the post carried as TCPA consent evidence, each value as checked.",
    )
    claim = _obj(
        ["state", "attempts", "claimedAt", "expiresAt", "pageUrl", "consentText", "error"],
        {
            "state": {"enum": [state for state in ClaimState.values if state]},
            "attempts": INTEGER,
            "claimedAt": _nullable(TIME),
            "expiresAt": _nullable(TIME),
            "pageUrl": NULLABLE_STRING,
            "consentText": NULLABLE_STRING,
            "error": NULLABLE_STRING,
        },
        description="The TrustedForm claim of the certificate; null when none was sent.",
    )
    consent_evidence = _obj(
        [*CONSENT_KEYS, "claim"],
        {**{key: NULLABLE_STRING for key in CONSENT_KEYS}, "claim": _nullable(claim)},
        description="A record's consent evidence and its claim's outcome (SPEC §14).",
    )
    record = _obj(
        [*common, "customFields", "notes", "returned", "consent"],
        {
            **common,
            **{
                name: {**schema, "description": "Individuals only (absent on Sales Records)."}
                for name, schema in individual_only.items()
            },
            "customFields": {
                "type": "object",
                "additionalProperties": {
                    "anyOf": [STRING, {"type": "array", "items": STRING}],
                },
                "description": "By the custom field's name; a Checkbox List as a list.",
            },
            "notes": {
                "type": "array",
                "items": _ref("Note"),
                "description": "Pinned first, then in the order posted.",
            },
            "returned": {
                **_nullable(
                    _obj(
                        ["reason", "note", "at", "by"],
                        {
                            "reason": {"enum": list(ReturnReason.values)},
                            "note": STRING,
                            "at": TIME,
                            "by": _nullable(_ref("Agent")),
                        },
                    )
                ),
                "description": "The record's return to its vendor (SPEC §14); null if none.",
            },
            "consent": {
                **_nullable(_ref("ConsentEvidence")),
                "description": "The consent evidence its post carried (SPEC §14); null if none.",
            },
        },
        description="Every stored field under the post's parameter names, values normalised.",
    )
    record_page = _obj(
        ["records", "nextCursor", "hasMore"],
        {
            "records": {"type": "array", "items": _ref("Record")},
            "nextCursor": {
                **STRING,
                "description": "Pass it as `after` next time: opaque, store it as given.",
            },
            "hasMore": {"type": "boolean", "description": "Another page is ready now."},
        },
    )
    api_error = _obj(
        ["error"],
        {"error": _obj(["code", "message"], {"code": STRING, "message": STRING})},
    )
    rate = {**_nullable({"type": "number", "minimum": 0, "maximum": 1})}
    counts = _obj(
        [
            "posts",
            "created",
            "duplicate",
            "rejected",
            "refused",
            "refusedBy",
            "overCap",
            "dryRuns",
            "possibleDuplicates",
            "duplicateRate",
            "rejectionRate",
            "answerMs",
            "warnings",
            "attachments",
            "leadsPerAgent",
            "spend",
        ],
        {
            "posts": {**INTEGER, "description": "Every post but dry runs."},
            "created": INTEGER,
            "duplicate": INTEGER,
            "rejected": INTEGER,
            "refused": INTEGER,
            "refusedBy": {
                "type": "object",
                "propertyNames": {"enum": sorted(REFUSED)},
                "additionalProperties": INTEGER,
                "description": "The refused posts by reason (only reasons that happened).",
            },
            "overCap": INTEGER,
            "dryRuns": INTEGER,
            "possibleDuplicates": POSSIBLE_DUPLICATES,
            "duplicateRate": rate,
            "rejectionRate": rate,
            "answerMs": _obj(
                ["median", "p95", "timed"],
                {
                    "median": _nullable({"type": "number"}),
                    "p95": _nullable({"type": "number"}),
                    "timed": INTEGER,
                },
            ),
            "warnings": {
                "type": "array",
                "items": _obj(
                    ["field", "code", "posts", "share", "example", "message"],
                    {
                        "field": NULLABLE_STRING,
                        "code": STRING,
                        "posts": INTEGER,
                        "share": rate,
                        "example": {**STRING, "description": "Redacted, at most 60 characters."},
                        "message": STRING,
                    },
                ),
            },
            "attachments": _obj(["stored", "failed"], {"stored": INTEGER, "failed": INTEGER}),
            "leadsPerAgent": {
                "type": "array",
                "items": _obj(
                    ["agentId", "name", "leads"],
                    {"agentId": _nullable(INTEGER), "name": STRING, "leads": INTEGER},
                ),
            },
            "spend": {**NULLABLE_STRING, "description": 'Dollars, e.g. "560.00".'},
        },
    )
    day = _obj(
        [
            "date",
            "created",
            "duplicate",
            "rejected",
            "refused",
            "overCap",
            "dryRuns",
            "possibleDuplicates",
        ],
        {
            "date": {"type": "string", "format": "date"},
            "created": INTEGER,
            "duplicate": INTEGER,
            "rejected": INTEGER,
            "refused": INTEGER,
            "overCap": INTEGER,
            "dryRuns": INTEGER,
            "possibleDuplicates": POSSIBLE_DUPLICATES,
        },
    )
    vendor = _obj(
        ["id", "label", "enabled", "pricePerLead", "total"],
        {
            "id": INTEGER,
            "label": STRING,
            "enabled": {"type": "boolean"},
            "pricePerLead": {**NULLABLE_STRING, "description": 'Dollars, e.g. "14.00".'},
            "total": _ref("VendorCounts"),
            "days": {
                "type": "array",
                "items": _ref("VendorDay"),
                "description": "One URL only: a row per day of the period, oldest first.",
            },
        },
    )
    report = _obj(
        ["period", "salesRecordsIncluded", "vendors"],
        {
            "period": _obj(
                ["from", "to", "name", "timeZone"],
                {
                    "from": {"type": "string", "format": "date"},
                    "to": {"type": "string", "format": "date"},
                    "name": {"enum": [*PERIODS, "dates"]},
                    "timeZone": STRING,
                },
            ),
            "salesRecordsIncluded": {"type": "boolean"},
            "vendors": {"type": "array", "items": _ref("Vendor")},
        },
    )
    return {
        "schemas": {
            "Problem": problem,
            "Agent": agent,
            "Routing": routing,
            "Cap": cap,
            **lead_answers,
            "LeadForm": lead_form_schema(),
            "Record": record,
            "ConsentValues": consent_values,
            "ConsentEvidence": consent_evidence,
            "RecordPage": record_page,
            "Note": note,
            "Attachment": attachment,
            "ApiError": api_error,
            "VendorReport": report,
            "Vendor": vendor,
            "VendorCounts": counts,
            "VendorDay": day,
        },
        "securitySchemes": {
            "apiToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token of the account (`leadpost issue-api-token "
                "--account ID`), as `Authorization: Bearer <token>`.",
            }
        },
    }


def _json(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _header(description: str, schema: Schema | None = None) -> Schema:
    return {"description": description, "required": True, "schema": schema or INTEGER}


POST_ID = _header("The post's id in the post log.")


def _lead_answer(
    description: str, *schemas: str, headers: dict[str, Schema] | None = None
) -> Schema:
    schema = _ref(schemas[0]) if len(schemas) == 1 else {"oneOf": [_ref(s) for s in schemas]}
    answer: Schema = {"description": description, "content": _json(schema)}
    answer["headers"] = headers if headers is not None else {"X-Lead-Post-Id": POST_ID}
    return answer


def _lead_operation(dry_run: bool) -> Schema:
    limit = settings.LEADPOST_MAX_BODY_BYTES
    retry = _header("Seconds to wait before posting again.")
    retry_known = {"X-Lead-Post-Id": POST_ID, "Retry-After": retry}
    ok = (
        _lead_answer("A dry run's answer: what the post would become.", "LeadTest")
        if dry_run
        else _lead_answer(
            "`created`: stored; `duplicate`: the externalID was already posted.",
            "LeadCreated",
            "LeadDuplicate",
        )
    )
    return {
        "operationId": "postLeadTest" if dry_run else "postLead",
        "tags": ["Lead Post"],
        "summary": "Dry-run a lead post (nothing stored)" if dry_run else "Post a lead",
        "description": (
            "The same post as to the Lead Post URL, parsed, checked and routed exactly as a "
            "real one; it stores no record and uses none of a cap."
            if dry_run
            else "A vendor posts one lead to the account's secret Lead Post URL (SPEC §2, §3). "
            "200 means stored. Only POST is accepted (another method: 405, logged)."
        ),
        "security": [],
        "parameters": [
            {
                "name": "token",
                "in": "path",
                "required": True,
                "description": "The secret of the Lead Post URL, as the agency issued it.",
                "schema": {"type": "string", "pattern": "^[^/]+$"},
            }
        ],
        "requestBody": {
            "required": False,
            "description": (
                f"A form, `{FORM_TYPE}` (a `charset` parameter is honoured, UTF-8 by default), "
                "with a Content-Length or chunked; at most "
                f"{limit} bytes. Any other content type (multipart/form-data, JSON) is "
                "answered 415."
            ),
            "content": {FORM_TYPE: {"schema": _ref("LeadForm")}},
        },
        "responses": {
            "200": ok,
            "400": _lead_answer(
                "`rejected`: firstName or lastName missing; or `cut_short`: the body ended "
                "before its Content-Length (nothing stored: post it again).",
                "LeadRejected",
                "LeadRefused",
            ),
            "404": _lead_answer("No Lead Post URL here.", "LeadUnknownUrl", headers={}),
            "405": _lead_answer(
                "Not a POST.",
                "LeadRefused",
                headers={"X-Lead-Post-Id": POST_ID, "Allow": _header("POST", STRING)},
            ),
            "408": _lead_answer(
                f"The body did not arrive within {settings.LEADPOST_BODY_TIMEOUT} seconds.",
                "LeadRefused",
            ),
            "413": _lead_answer(f"The body is over {limit} bytes: not read.", "LeadRefused"),
            "415": _lead_answer(
                f"Not `{FORM_TYPE}`, or a charset that cannot carry a form.", "LeadRefused"
            ),
            "429": _lead_answer(
                "`over_cap`: the URL's cap per day or month is reached (Retry-After: until the "
                "next period); or `rate_limited`: over the URL's posts a minute.",
                "LeadOverCap",
                "LeadRefused",
                headers=retry_known,
            ),
            "503": _lead_answer(
                "Not stored right now (database locked, restarting or out of reach; too many "
                "large bodies at once): post it again after Retry-After seconds.",
                "LeadUnavailable",
                headers={"Retry-After": retry},
            ),
        },
    }


def _api_error(description: str, **headers: Schema) -> Schema:
    answer: Schema = {"description": description, "content": _json(_ref("ApiError"))}
    if headers:
        answer["headers"] = headers
    return answer


UNAUTHORIZED = _api_error(
    "No valid API token.",
    **{"WWW-Authenticate": _header('Bearer realm="leadpost"', STRING)},
)
# The documents' views are Django's require_GET: an empty body.
NOT_GET = {"description": "Not a GET.", "headers": {"Allow": _header("GET, HEAD", STRING)}}
READ_ONLY = _api_error("Not a GET: the read API is read-only.", Allow=_header("GET", STRING))


def _read(operation_id: str, summary: str, description: str, **answers: Schema) -> Schema:
    return {
        "get": {
            "operationId": operation_id,
            "tags": ["Read API"],
            "summary": summary,
            "description": description,
            "security": [{"apiToken": []}],
            "responses": {**answers, "401": UNAUTHORIZED, "405": READ_ONLY},
        }
    }


def _id_parameter(name: str, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "integer", "minimum": 1},
    }


def _vendor_parameters() -> list[Schema]:
    date = {"type": "string", "format": "date"}
    return [
        {
            "name": "period",
            "in": "query",
            "description": f"That many days of the account's time zone up to today; "
            f"{DEFAULT_PERIOD} by default. Instead of from/to.",
            "schema": {"enum": list(PERIODS)},
        },
        {
            "name": "from",
            "in": "query",
            "description": f"The first day, YYYY-MM-DD (at most {MAX_DAYS} days with to).",
            "schema": date,
        },
        {
            "name": "to",
            "in": "query",
            "description": "The last day, YYYY-MM-DD; today by default; needs from.",
            "schema": date,
        },
        {
            "name": "format",
            "in": "query",
            "description": "json (the default) or csv. Without it, an Accept header asking for "
            "text/csv (and not application/json) gets CSV.",
            "schema": {"enum": ["json", "csv"]},
        },
    ]


def _vendor_answers(one: bool) -> dict[str, Schema]:
    answers: dict[str, Schema] = {
        "200": {
            "description": "The figures: JSON, or CSV (a download) for format=csv.",
            "content": {
                **_json(_ref("VendorReport")),
                "text/csv": {"schema": STRING},
            },
        },
        "400": _api_error("`bad_period` (period, from or to) or `invalid_parameter` (format)."),
    }
    if one:
        answers["404"] = _api_error("Not one of this account's Lead Post URLs.")
    return answers


def build_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, as the JSON object served."""
    records = _read(
        "listRecords",
        "Records after a cursor",
        "The account's records after the cursor `after`, in cursor order: pass back "
        "`nextCursor` to get only newer ones. Polling like this never misses a record and "
        "never gives one twice (SPEC §11).",
        **{
            "200": {"description": "A page of records.", "content": _json(_ref("RecordPage"))},
            "400": _api_error("`invalid_parameter`: `after` or `limit`."),
        },
    )
    records["get"]["parameters"] = [
        {
            "name": "after",
            "in": "query",
            "description": "A `nextCursor` this API returned, or a record id (the records "
            "with a higher id); absent for the first record. Anything else is a 400.",
            "schema": {"type": "string", "pattern": CURSOR_PATTERN},
        },
        {
            "name": "limit",
            "in": "query",
            "description": f"At most this many records (default {settings.LEADPOST_API_PAGE_SIZE}"
            ", at most 1000; out-of-range values are brought within).",
            "schema": INTEGER,
        },
    ]
    record = _read(
        "getRecord",
        "One record",
        "Every stored field, custom fields, agents, notes and their attachments.",
        **{
            "200": {"description": "The record.", "content": _json(_ref("Record"))},
            "404": _api_error("Not a record of this account."),
        },
    )
    record["get"]["parameters"] = [_id_parameter("record_id", "The record's id.")]
    content = _read(
        "getAttachmentContent",
        "An attachment's file",
        "The bytes of a stored attachment, as a download (its own content type).",
        **{
            "200": {
                "description": "The file.",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            },
            "404": _api_error("Not an attachment of this account."),
            "409": _api_error("`not_stored`: the attachment is pending or failed."),
        },
    )
    content["get"]["parameters"] = [_id_parameter("attachment_id", "The attachment's id.")]
    vendors = _read(
        "listVendors",
        "Vendor figures: every Lead Post URL",
        "Every Lead Post URL of the account over the period, with its totals (SPEC §13).",
        **_vendor_answers(one=False),
    )
    vendors["get"]["parameters"] = _vendor_parameters()
    vendor = _read(
        "getVendor",
        "Vendor figures: one Lead Post URL",
        "One Lead Post URL over the period: its totals and a row per day.",
        **_vendor_answers(one=True),
    )
    vendor["get"]["parameters"] = [
        {**_id_parameter("url_id", "The Lead Post URL's id, as in the list.")},
        *_vendor_parameters(),
    ]
    document_only = {"description": "No token needed; the same for everyone."}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Leadpost",
            "version": API_VERSION,
            "summary": "Receive insurance leads over the AMS+ Lead POST; read them back.",
            "description": (
                "Vendors post leads to a secret Lead Post URL (no other credentials); the "
                "agency's systems read records and vendor figures back with an API token."
            ),
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "Lead Post", "description": "For vendors (SPEC §2, §3)."},
            {"name": "Read API", "description": "For the agency's systems (SPEC §11, §13)."},
            {"name": "Documents", "description": "This description."},
        ],
        "paths": {
            "/leadpost/{token}": {"post": _lead_operation(dry_run=False)},
            "/leadpost/{token}/test": {"post": _lead_operation(dry_run=True)},
            "/api/v1/records": records,
            "/api/v1/records/{record_id}": record,
            "/api/v1/attachments/{attachment_id}/content": content,
            "/api/v1/vendors": vendors,
            "/api/v1/vendors/{url_id}": vendor,
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApiDocument",
                    "tags": ["Documents"],
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            **document_only,
                            "content": _json({"type": "object"}),
                        },
                        "405": NOT_GET,
                    },
                }
            },
            "/api/v1/docs": {
                "get": {
                    "operationId": "getApiDocs",
                    "tags": ["Documents"],
                    "summary": "This document as a page for people",
                    "security": [],
                    "responses": {
                        "200": {**document_only, "content": {"text/html": {"schema": STRING}}},
                        "405": NOT_GET,
                    },
                }
            },
        },
        "components": _components(),
    }
