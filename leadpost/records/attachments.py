"""Notes and their files: storing what a post carries (SPEC §8).

Base64 files are written to storage before the record's transaction and recorded in it, so a 200
means they are stored. URL files become `pending` attachments with a download task enqueued in the
same transaction; the downloads themselves are background work (records/tasks.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models

from leadpost.lib import fastsql
from leadpost.records.inputs import ParsedNote
from leadpost.records.models import (
    Attachment,
    AttachmentState,
    Note,
    Record,
    attachment_storage_name,
)
from leadpost.records.tasks import download_attachment

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A posted base64 file already written to storage, waiting for its attachment row."""

    key: str
    name: str
    size: int
    sha256: str


def store_inline_files(
    account_id: int, notes: Iterable[ParsedNote]
) -> dict[tuple[int, int], StoredBlob]:
    """Write every base64 file of the post to storage; keyed by (note number, file position)."""
    blobs: dict[tuple[int, int], StoredBlob] = {}
    try:
        for note in notes:
            for position, parsed in enumerate(note.files, start=1):
                if parsed.content is None:
                    continue
                key = uuid.uuid4().hex
                name = default_storage.save(
                    attachment_storage_name(account_id, key, parsed.name),
                    ContentFile(parsed.content),
                )
                blobs[(note.number, position)] = StoredBlob(
                    key, name, len(parsed.content), hashlib.sha256(parsed.content).hexdigest()
                )
    except BaseException:
        discard(blobs)
        raise
    return blobs


def discard(blobs: dict[tuple[int, int], StoredBlob]) -> None:
    """Remove files whose record was not stored (a duplicate, a failed transaction)."""
    for blob in blobs.values():
        try:
            default_storage.delete(blob.name)
        except OSError:
            logger.warning("could not remove orphan attachment file %s", blob.name)


def _insert_all(rows: Sequence[models.Model]) -> None:
    # A post's one or two notes are cheaper as compiled single inserts; a full post (5 notes of
    # 5 files) as one statement each.
    if len(rows) <= 2:
        for row in rows:
            fastsql.insert(row)
    elif rows:
        type(rows[0])._default_manager.bulk_create(rows)


def add_notes(
    record: Record,
    notes: list[ParsedNote],
    blobs: dict[tuple[int, int], StoredBlob],
    *,
    now: dt.datetime,
    new_record: bool,
) -> list[Attachment]:
    """Create the notes and attachments of a post on `record`; enqueue URL downloads.

    Notes are applied in order 1..5, so of several pinned ones the last stays pinned (SPEC §8).
    """
    if not notes:
        return []
    last_pinned = max((note.number for note in notes if note.pinned), default=None)
    if last_pinned is not None and not new_record:
        Note.objects.filter(record=record, pinned=True).update(pinned=False)
    rows = [
        Note(
            record=record,
            number=note.number,
            subject=note.subject,
            body=note.body,
            pinned=note.number == last_pinned,
            created_at=now,
        )
        for note in notes
    ]
    _insert_all(rows)
    attachments: list[Attachment] = []
    for row, note in zip(rows, notes, strict=True):
        for position, parsed in enumerate(note.files, start=1):
            blob = blobs.get((note.number, position))
            if blob is not None:
                attachments.append(
                    Attachment(
                        note=row,
                        number=position,
                        key=blob.key,
                        file_name=parsed.name,
                        file=blob.name,
                        size=blob.size,
                        sha256=blob.sha256,
                        state=AttachmentState.STORED,
                        stored_at=now,
                        created_at=now,
                    )
                )
            else:
                attachments.append(
                    Attachment(
                        note=row,
                        number=position,
                        key=uuid.uuid4().hex,
                        file_name=parsed.name,
                        source_url=parsed.url or "",
                        state=AttachmentState.PENDING,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
    _insert_all(attachments)
    for attachment in attachments:
        if attachment.state == AttachmentState.PENDING:
            # Same transaction as the record: a 200 always has its download jobs.
            download_attachment.enqueue(attachment.pk)
    return attachments
