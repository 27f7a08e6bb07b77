"""`leadpost purge-orphan-files`: stored files of no attachment are deleted, and nothing else.

A base64 file is written before its record's transaction; a server killed in between leaves the
file behind with no row (the cluster test shows it on S3). These tests use the local storage.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
import uuid
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from leadpost.accounts.models import Account
from leadpost.conftest import PostFn
from leadpost.records.models import Attachment, attachment_storage_name

PDF = b"%PDF-1.4\nquote\n%%EOF\n"


@pytest.fixture(autouse=True)
def own_storage(settings, tmp_path: Path) -> Path:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    return tmp_path


def orphan(account: Account, hours_old: float) -> str:
    """A file as a killed post leaves it: in an attachment's folder, with no attachment row."""
    name = default_storage.save(
        attachment_storage_name(account.pk, uuid.uuid4().hex, "lost.pdf"), ContentFile(PDF)
    )
    then = time.time() - hours_old * 3600
    os.utime(default_storage.path(name), (then, then))
    return name


def purge(*args: str) -> dict[str, object]:
    out = io.StringIO()
    call_command("purge_orphan_files", "--json", *args, stdout=out)
    result: dict[str, object] = json.loads(out.getvalue())
    return result


def test_an_old_orphan_goes_and_a_stored_attachment_and_a_young_orphan_stay(
    post: PostFn, agency: Account
) -> None:
    answer = post(
        {
            "firstName": "Jane",
            "lastName": "Doe",
            "attachment_note_1_subject_text": "Quote",
            "attachment_note_1_body_text": "Sent today",
            "attach_file_to_note_1": "1",
            "attachment_note_1_file_name_1": "quote.pdf",
            "attachment_note_1_file_body_1": base64.b64encode(PDF).decode(),
        }
    ).json()
    assert answer["result"] == "created" and not answer["warnings"], answer
    stored = Attachment.objects.get().file.name
    os.utime(default_storage.path(stored), (0, 0))  # old, but its row exists
    old = orphan(agency, hours_old=30)
    young = orphan(agency, hours_old=1)

    assert purge("--dry-run")["wouldDelete"] == 1
    assert default_storage.exists(old)

    result = purge()
    assert result["deleted"] == 1
    assert result["keptYoungerThanCutoff"] == 1
    assert not default_storage.exists(old)
    assert default_storage.exists(stored) and default_storage.exists(young)
    assert default_storage.open(stored).read() == PDF

    # A file an hour old may be a post's still in flight: only looked at, never deleted, younger.
    assert purge("--hours", "0", "--dry-run")["wouldDelete"] == 1
    with pytest.raises(CommandError, match="posts still in progress"):
        call_command("purge_orphan_files", "--hours", "0", stdout=io.StringIO())
    assert default_storage.exists(young) and default_storage.exists(stored)


def test_an_empty_store_is_fine(db: None) -> None:
    assert purge()["deleted"] == 0


@pytest.mark.parametrize("hours", ["-1", "1.5", "١", "99999999999", "87601", "", "1 "])
def test_an_age_that_is_not_whole_hours_in_range_is_refused(db: None, hours: str) -> None:
    with pytest.raises(CommandError, match="--hours must be a whole number"):
        call_command("purge_orphan_files", "--hours", hours, stdout=io.StringIO())
