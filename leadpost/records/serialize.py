"""Records as the read API shows them (SPEC §11): the post's own parameter names, values normalised."""

from __future__ import annotations

from typing import Any

from leadpost.accounts.models import User
from leadpost.records.models import Record, RecordType


def _date(value: Any) -> str | None:
    return value.strftime("%m/%d/%Y") if value else None


def _agent(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "firstName": user.first_name, "lastName": user.last_name}


def _text(value: str) -> str | None:
    return value or None


def record_json(record: Record) -> dict[str, Any]:
    individual = record.record_type == RecordType.INDIVIDUAL
    data: dict[str, Any] = {
        "id": record.pk,
        "recordType": "individual" if individual else "salesRecord",
        "createdAt": record.created_at.isoformat(),
        "leadPostUrl": (
            {"id": record.lead_post_url.pk, "label": record.lead_post_url.label}
            if record.lead_post_url
            else None
        ),
        "externalID": record.external_id,
        "firstName": record.first_name,
        "lastName": record.last_name,
        "middleInitial": _text(record.middle_initial),
        "title": _text(record.title),
        "birthDate": _date(record.birth_date),
        "leadDate": _date(record.lead_date),
        "ssn": record.ssn_masked or None,
        "gender": _text(record.gender),
        "smokerStatus": _text(record.smoker_status),
        "email": _text(record.email),
        "status": record.status.value if record.status else None,
        "leadSource": record.lead_source.value if record.lead_source else None,
        "homePhone": _text(record.home_phone),
        "cellPhone": _text(record.cell_phone),
        "street1": _text(record.street1),
        "street2": _text(record.street2),
        "city": _text(record.city),
        "stateAbbrev": _text(record.state),
        "zip": _text(record.zip_code),
        "county": _text(record.county),
        "servicingAgent": _agent(record.servicing_agent),
    }
    if individual:
        data.update(
            {
                "type": record.type.value if record.type else None,
                "projectCode": record.project_code.value if record.project_code else None,
                "leadSourceOther": _text(record.lead_source_other),
                "businessPhone": _text(record.business_phone),
                "leadSourceAgent": _agent(record.lead_source_agent),
            }
        )
    return data


RECORD_RELATED = (
    "lead_post_url",
    "status",
    "lead_source",
    "type",
    "project_code",
    "servicing_agent",
    "lead_source_agent",
)
