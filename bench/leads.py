"""The posts the benchmarks send: a typical lead, and a lead carrying many base64 files."""

from __future__ import annotations

import base64
import datetime as dt
import os
from urllib.parse import quote, urlencode

# The placeholder bench/intake_load.lua replaces with a fresh externalID on every request.
ID_PLACEHOLDER = "{{ID}}"


def typical_lead(external_id: str) -> dict[str, str]:
    """Every SPEC §5 field (Individual mode, the default), two custom fields and one short note.

    The agents are the two users bench/service.py creates; the ZIP lies in the county given.
    """
    return {
        "firstName": "Jane",
        "lastName": "Doe",
        "middleInitial": "Q",
        "title": "Ms.",
        "birthDate": "04/12/1980",
        "leadDate": dt.date.today().strftime("%m/%d/%Y"),
        "ssn": "212-55-1234",
        "gender": "f",
        "smokerStatus": "N",
        "email": "jane.doe@mail.example-agency.com",
        "status": "New",
        "leadSource": "Datalot",
        "externalID": external_id,
        "homePhone": "319-337-4000",
        "cellPhone": "(319) 621 5555",
        "street1": "123 Main St",
        "street2": "Apt 4",
        "city": "Iowa City",
        "stateAbbrev": "IA",
        "zip": "52240-1234",
        "county": "Johnson",
        "servicingAgentFirstName": "Ann",
        "servicingAgentLastName": "Agent",
        # Individuals only.
        "type": "Prospect",
        "projectCode": "Medicare 2026",
        "leadSourceOther": "Web form, mobile",
        "businessPhone": "3193561234",
        "leadSourceAgentFirstName": "Bob",
        "leadSourceAgentLastName": "Broker",
        # Custom fields (SPEC §7).
        "custom_Policy Type": "Term Life",
        "custom_Coverage Amount": "250000",
        # One short note (SPEC §8).
        "attachment_note_1_subject_text": "Call back",
        "attachment_note_1_body_text": "Prefers afternoon calls; asked about a 20-year term policy.",
    }


def form_body(params: dict[str, str]) -> str:
    # quote (not quote_plus): "+" would do too, but %20 is what most vendors' HTTP clients send.
    return urlencode(params, quote_via=quote)


def typical_template() -> str:
    """The urlencoded typical post with ID_PLACEHOLDER where the externalID goes."""
    body = form_body(typical_lead("PLACEHOLDER-ID"))
    return body.replace("PLACEHOLDER-ID", ID_PLACEHOLDER)


def lead_with_files(notes: int, files_per_note: int, base64_bytes: int) -> tuple[bytes, int]:
    """A lead whose notes carry notes x files_per_note base64 files of `base64_bytes` each.

    Standard base64 alphabet, percent-encoded as a form requires ("+" and "/" become %2B, %2F), as
    a vendor's HTTP client sends it. Returns the body and the number of decoded bytes it carries.
    """
    raw_size = base64_bytes // 4 * 3
    lead = {
        k: v for k, v in typical_lead("memory-1").items() if not k.startswith("attachment_note_")
    }
    parts = [form_body(lead)]
    decoded = 0
    for n in range(1, notes + 1):
        note = {
            f"attachment_note_{n}_subject_text": f"Documents {n}",
            f"attachment_note_{n}_body_text": "Scanned policy documents.",
            f"attach_file_to_note_{n}": "1",
        }
        parts.append(form_body(note))
        for m in range(1, files_per_note + 1):
            content = os.urandom(raw_size)  # incompressible, like a scanned PDF
            decoded += len(content)
            encoded = base64.b64encode(content).decode()
            parts.append(
                form_body(
                    {
                        f"attachment_note_{n}_file_name_{m}": f"scan-{n}-{m}.pdf",
                        f"attachment_note_{n}_file_body_{m}": encoded,
                    }
                )
            )
    return "&".join(parts).encode(), decoded
