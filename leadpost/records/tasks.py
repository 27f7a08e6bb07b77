"""Background work on records, run by `leadpost worker` (Django's tasks, django-tasks-db backend)."""

from __future__ import annotations

from django.tasks import task

from leadpost.records import attachments


@task()
def download_attachment(attachment_id: int) -> str:
    """One attempt at downloading a URL attachment; the attachment row says what happened."""
    return attachments.download(attachment_id)
