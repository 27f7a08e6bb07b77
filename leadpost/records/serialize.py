"""Records as the read API shows them (SPEC §11): the post's own parameter names, values normalised."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse

from leadpost.accounts.models import User
from leadpost.consent.present import consent_json
from leadpost.records.duplicates import matched_on
from leadpost.records.models import Attachment, AttachmentState, Note, Record, RecordType


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
        "routing": record.routing,
        "possibleDuplicateOf": possible_duplicate_json(record),
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
    # Prefetched (see RECORD_PREFETCH). Checkbox Lists as lists, everything else as posted/normalised.
    data["customFields"] = {
        v.field.name: (v.value.split("||") if v.field.field_type == "checkbox_list" else v.value)
        for v in sorted(record.custom_values.all(), key=lambda v: v.field.name)
    }
    # Pinned first, then in the order they were posted.
    data["notes"] = [note_json(note) for note in record.notes.all()]
    data["returned"] = returned_json(record)
    data["consent"] = consent_json(record)  # SPEC §14; joined by RECORD_RELATED
    return data


def possible_duplicate_json(record: Record) -> dict[str, Any] | None:
    """SPEC §14: the earlier record of another vendor this one may duplicate, and what matched
    (the kinds only: never a value, an SSN least of all). The API's token reads the whole
    account, Sales Records included, so the earlier record is named whatever its type."""
    earlier = record.duplicate_of
    if earlier is None:
        return None
    url = earlier.lead_post_url
    return {
        "recordId": earlier.pk,
        "recordType": "individual"
        if earlier.record_type == RecordType.INDIVIDUAL
        else "salesRecord",
        "leadPostUrlId": url.pk if url else None,
        "vendor": url.label if url else None,
        "createdAt": earlier.created_at.isoformat(),
        "matchedOn": matched_on(record.duplicate_matched),
    }


def returned_json(record: Record) -> dict[str, Any] | None:
    """The record's return to its vendor (SPEC §14), or None (selected with RECORD_RELATED)."""
    try:
        returned = record.vendor_return
    except ObjectDoesNotExist:
        return None
    return {
        "reason": returned.reason,
        "note": returned.note,
        "at": returned.returned_at.isoformat(),
        "by": _agent(returned.returned_by),
    }


def note_json(note: Note) -> dict[str, Any]:
    return {
        "id": note.pk,
        "subject": note.subject,
        "body": note.body,
        "pinned": note.pinned,
        "createdAt": note.created_at.isoformat(),
        "attachments": [attachment_json(a) for a in note.attachments.all()],
    }


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    stored = attachment.state == AttachmentState.STORED
    return {
        "id": attachment.pk,
        "fileName": attachment.file_name,
        "source": "url" if attachment.source_url else "body",
        "sourceUrl": attachment.source_url or None,
        "state": attachment.state,
        "error": attachment.error or None,
        "attempts": attachment.attempts,
        "size": attachment.size,
        "sha256": attachment.sha256 or None,
        "contentType": attachment.content_type or None,
        "storedAt": attachment.stored_at.isoformat() if attachment.stored_at else None,
        "contentUrl": (reverse("api-attachment-content", args=[attachment.pk]) if stored else None),
    }


RECORD_PREFETCH = ("notes__attachments", "custom_values__field")
RECORD_RELATED = (
    "lead_post_url",
    "status",
    "lead_source",
    "type",
    "project_code",
    "servicing_agent",
    "lead_source_agent",
    "duplicate_of__lead_post_url",
    "vendor_return__returned_by",
    "consent",
)
