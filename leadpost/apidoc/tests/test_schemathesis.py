"""Schemathesis against a served instance (`leadpost serve` on the test database): every request it
generates from the served /api/v1/openapi.json, to the lead endpoint and the read API, gets an
answer the document allows (status, content type, headers, schema), and never a 5xx.

Deterministic (derandomized, a bounded number of examples per operation) so that a failure
reproduces and the run stays short. Failures are collected and reported with the URL token and
the API token masked: neither is printed, here or in Hypothesis' own report.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from jsonschema import Draft202012Validator
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from leadpost.accounts.models import Account, ApiToken
from leadpost.apidoc.document import build_document
from leadpost.intake.models import LeadPostUrl

# Per operation and generation mode: enough to reach every answer of each operation's
# parameters, bounded so both databases' CI runs stay a minute or so each.
MAX_EXAMPLES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    unsupported_method,
    ignored_auth,
]
MAX_REPORTED = 5


@dataclass(frozen=True)
class Secrets:
    """The URL token and the API token, masked wherever pytest shows a frame's arguments."""

    url_token: str
    api_token: str

    def __repr__(self) -> str:
        return "Secrets(<masked>)"

    def mask(self, text: str) -> str:
        return text.replace(self.url_token, "<url-token>").replace(self.api_token, "<api-token>")


def _seed(base: str, secrets: Secrets) -> dict[str, int]:
    """A record with a stored attachment, posted as a vendor would: real ids to fuzz around."""
    body = {
        "firstName": "Jane",
        "lastName": "Roe",
        "attachment_note_1_subject_text": "quote",
        "attachment_note_1_body_text": "as sent",
        "attach_file_to_note_1": "1",
        "attachment_note_1_file_name_1": "quote.txt",
        "attachment_note_1_file_body_1": base64.b64encode(b"a quote").decode(),
    }
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = httpx.post(
        f"{base}/leadpost/{secrets.url_token}", content=urlencode(body), headers=headers
    )
    assert answer.status_code == 200
    record_id = answer.json()["recordId"]
    bearer = {"Authorization": f"Bearer {secrets.api_token}"}
    record = httpx.get(f"{base}/api/v1/records/{record_id}", headers=bearer).json()
    attachment_id = record["notes"][0]["attachments"][0]["id"]
    return {"record_id": record_id, "attachment_id": attachment_id}


@pytest.mark.django_db(transaction=True)
def test_every_generated_request_gets_an_answer_the_document_allows(
    served: str, agency: Account
) -> None:
    # Made here, not taken as fixtures: pytest shows a failing test's fixture values.
    url, url_token = LeadPostUrl.issue(agency, "Datalot")
    _check_served(served, url.pk, Secrets(url_token, ApiToken.issue(agency, "CRM")[1]))


def _check_served(served: str, url_id: int, secrets: Secrets) -> None:
    ids: dict[str, Any] = {**_seed(served, secrets), "url_id": url_id}
    ids["token"] = secrets.url_token
    schema = schemathesis.openapi.from_url(f"{served}/api/v1/openapi.json")
    failures: list[str] = []
    answered: dict[str, Counter[int]] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        fixed = {name: ids[name] for name in ids if "{" + name + "}" in operation.path}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            found, statuses = _fuzz(served, operation, mode, fixed, secrets)
            failures += found
            answered[f"{operation.method.upper()} {operation.path} {mode.value}"] = statuses
    failures += _undeclared_methods(served, ids, secrets)
    # What the run reached, for whoever reads the output (-s).
    for name, statuses in answered.items():
        print(f"schemathesis: {name}: {dict(sorted(statuses.items()))}")
    # Every operation but the document's own (Schemathesis leaves out the one it loaded from).
    assert operations == len(build_document()["paths"]) - 1
    # The generated leads reached the store, not only the refusals.
    assert answered["POST /leadpost/{token} positive"][200] > 0
    assert answered["POST /leadpost/{token}/test positive"][200] > 0
    assert not failures, f"{len(failures)} failing cases; the first:\n" + "\n---\n".join(
        failures[:MAX_REPORTED]
    )


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _undeclared_methods(served: str, ids: dict[str, Any], secrets: Secrets) -> list[str]:
    """Every method a path does not declare gets the 405 its operation describes, with Allow.

    Schemathesis' unsupported_method check runs in its coverage phase, which the strategies
    above do not run; this is that check, for every path and method.
    """
    document = build_document()
    failures = []
    for path, item in document["paths"].items():
        (declared,) = item.values()
        answer = declared["responses"].get("405")
        url = served + path.format(**ids)
        headers = {"Authorization": f"Bearer {secrets.api_token}"}
        for method in METHODS:
            if method.lower() in item:
                continue
            response = httpx.request(method, url, headers=headers, timeout=60)
            problems = []
            if answer is None or response.status_code != 405:
                problems.append(f"answered {response.status_code}, not a described 405")
            elif "Allow" not in response.headers:
                problems.append("no Allow header")
            else:
                content = answer.get("content", {})
                media = response.headers.get("Content-Type", "").split(";")[0]
                if content and media not in content:
                    problems.append(f"answered {media}")
                elif content:
                    schema = {**content[media]["schema"], "components": document["components"]}
                    if not Draft202012Validator(schema).is_valid(response.json()):
                        problems.append("body not as described")
            failures += [secrets.mask(f"{method} {path}: {p}") for p in problems]
    return failures


def _fuzz(
    served: str, operation: Any, mode: GenerationMode, fixed: dict[str, Any], secrets: Secrets
) -> tuple[list[str], Counter[int]]:
    """Run the checks on `MAX_EXAMPLES` generated requests to one operation: what failed, and
    the statuses answered."""
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    # The read API's token on every request (ignored_auth re-sends without it, expecting 401).
    headers = (
        {"Authorization": f"Bearer {secrets.api_token}"}
        if operation.path.startswith("/api/v1/")
        else {}
    )

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(base_url=served, headers=headers, timeout=60)
        statuses[response.status_code] += 1
        try:
            case.validate_response(
                response,
                checks=CHECKS,
                headers=headers,
                transport_kwargs={"base_url": served, "headers": headers},
            )
        except (Exception, BaseExceptionGroup) as exc:
            # Kept, not raised: Hypothesis' report of a falsifying example would print the
            # case, tokens and all. (Schemathesis' FailureGroup is a BaseExceptionGroup.)
            where = f"{case.method} {operation.path} ({mode.value})"
            failures.append(secrets.mask(f"{where}: {response.status_code}: {exc}"))

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid (no parameters, or none that a request can break).
        assert mode is GenerationMode.NEGATIVE
    return failures, statuses
