"""The operators' admin: issuing and disabling URLs, reading the post log and records (SSN masked)."""

from __future__ import annotations

import base64
import re

import pytest

from leadpost.accounts.models import User
from leadpost.intake.models import LeadPostUrl
from leadpost.records.models import Attachment

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("operator", "ops@example.com", "pw-operator-1")


@pytest.fixture
def admin_client(client, operator):
    client.force_login(operator)
    return client


def test_operator_issues_a_url_shown_once_and_it_works(admin_client, agency):
    response = admin_client.post(
        "/admin/intake/leadposturl/add/",
        {
            "account": agency.pk,
            "label": "NextGen Leads",
            "enabled": "on",
            "default_lead_source": "NextGen",
        },
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    match = re.search(r"/leadpost/([A-Za-z0-9_-]{40,})", page)
    assert match, "the new URL is shown after issuing it"
    token = match.group(1)
    row = LeadPostUrl.objects.get(label="NextGen Leads")
    assert row.token_hash != token and token not in (row.prefix, row.label)
    # Shown once: the URL's own page never shows the token again.
    again = admin_client.get(f"/admin/intake/leadposturl/{row.pk}/change/").content.decode()
    assert token not in again
    posted = admin_client.post(f"/leadpost/{token}", "firstName=A&lastName=B", content_type=FORM)
    assert posted.json()["result"] == "created"


def test_disable_action_makes_the_url_404(admin_client, vendor_url, client):
    url, token = vendor_url
    admin_client.post(
        "/admin/intake/leadposturl/",
        {"action": "disable", "_selected_action": [url.pk]},
        follow=True,
    )
    url.refresh_from_db()
    assert not url.enabled and url.disabled_at is not None
    response = client.post(f"/leadpost/{token}", "firstName=A&lastName=B", content_type=FORM)
    assert response.status_code == 404


def test_url_list_shows_counts_by_outcome(admin_client, vendor_url, post):
    post({"firstName": "A", "lastName": "B", "externalID": "1"})
    post({"firstName": "A", "lastName": "B", "externalID": "1"})
    post({"firstName": "A"})
    page = admin_client.get("/admin/intake/leadposturl/").content.decode()
    cells = re.findall(
        r'<td class="field-(created_count|duplicate_count|rejected_count)">(\d+)</td>', page
    )
    assert dict(cells) == {"created_count": "1", "duplicate_count": "1", "rejected_count": "1"}


def test_post_log_and_record_pages_never_show_the_ssn(admin_client, post):
    content = base64.b64encode(b"hello").decode()
    body = post(
        {
            "firstName": "A",
            "lastName": "B",
            "ssn": "123-45-6789",
            "attachment_note_1_subject_text": "Call notes",
            "attachment_note_1_body_text": "Wants a quote",
            "attach_file_to_note_1": "1",
            "attachment_note_1_file_name_1": "hello.txt",
            "attachment_note_1_file_body_1": content,
        }
    ).json()
    log_page = admin_client.get(f"/admin/intake/postlog/{body['postId']}/change/").content.decode()
    record_page = admin_client.get(
        f"/admin/records/individual/{body['recordId']}/change/"
    ).content.decode()
    for page in (log_page, record_page):
        assert "123-45-6789" not in page and "123456789" not in page
        assert "***-**-6789" in page
    assert "Call notes" in record_page and "hello.txt" in record_page
    attachment = Attachment.objects.get()
    download = admin_client.get(f"/admin/records/attachment/{attachment.pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"hello"


def test_admin_needs_a_login(client, vendor_url):
    response = client.get("/admin/intake/postlog/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_without_superuser_cannot_download_attachments(client, post, agency):
    post(
        {
            "firstName": "A",
            "lastName": "B",
            "attachment_note_1_subject_text": "S",
            "attachment_note_1_body_text": "B",
            "attach_file_to_note_1": "1",
            "attachment_note_1_file_name_1": "x.txt",
            "attachment_note_1_file_body_1": "eA==",
        }
    )
    # Django staff but no operator (not a superuser): the operators' admin gives them nothing.
    staff = User.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(staff)
    attachment = Attachment.objects.get()
    response = client.get(f"/admin/records/attachment/{attachment.pk}/download/")
    assert response.status_code in (403, 404)
