"""The vendor's guide per Lead Post URL (issue 15): held against the parser, and who may read it."""

from __future__ import annotations

import html
import json
import os
import re
import shlex
import subprocess
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import pytest
from django.core.cache import cache
from django.test import Client

from leadpost.accounts.models import Account, Permission, User
from leadpost.intake import parse
from leadpost.intake.guide import RULES, build_guide, known_parameters, printable
from leadpost.intake.models import GuideLink, LeadPostUrl
from leadpost.intake.notes_parse import NOTE_PARAMETER_NAMES
from leadpost.lib.choices import RecordType
from leadpost.records.models import CustomField, FieldType, Record

FORM = "application/x-www-form-urlencoded"


@pytest.fixture(autouse=True)
def _fresh_rate_window() -> None:
    # The shared guide's rate limit counts per client address in the cache, which outlives a test.
    cache.clear()


@pytest.fixture
def nina(agency: Account, staff_member: Any) -> User:
    """The agency's admin for Lead Post URLs."""
    return staff_member(agency, "nina", Permission.MANAGE_URLS)


@pytest.fixture
def admin(client: Client, nina: User) -> Client:
    client.force_login(nina)
    return client


def page(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return str(response.content.decode())


def codes(text: str, css_class: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(rf'<code class="{css_class}">(.*?)</code>', text)]


def block(text: str, element_id: str) -> str:
    found = re.search(rf'<pre class="\w+" id="{element_id}">(.*?)</pre>', text, re.DOTALL)
    assert found, element_id
    return html.unescape(found[1])


def guide_path(url: LeadPostUrl, part: str = "") -> str:
    return f"/staff/lead-post-urls/{url.pk}/guide/{part}"


def share(client: Client, url: LeadPostUrl) -> str:
    """Make the URL's shared guide link from its staff page; the link's token, shown once."""
    response = client.post(guide_path(url, "share/"), follow=True)
    found = re.search(r"/guide/([A-Za-z0-9_-]{43})", page(response))
    assert found, "the shared link is shown once after it was made"
    return found[1]


# --- the guide against the parser -------------------------------------------------------


def test_every_parameter_the_parser_knows_is_in_the_guide_and_nothing_else(admin, vendor_url):
    url, _token = vendor_url
    text = page(admin.get(guide_path(url)))
    listed = codes(text, "param")
    # The parser's own table and every name its spelling suggestions lead to.
    parser_names = set(parse.STANDARD_PARAMETERS) | {
        name
        for name in parse._SUGGESTIONS.values()
        if not parse.is_note_parameter(name) and parse.is_known_parameter(name)
    }
    assert set(listed) == parser_names
    assert len(listed) == len(set(listed)), "each parameter once"
    assert all(parse.is_known_parameter(name) for name in listed)

    # Notes: the patterns stand for exactly the parser's note parameters.
    patterns = codes(text, "note-param")
    expanded = {
        p.replace("_N", f"_{n}").replace("_M", f"_{m}")
        for p in patterns
        for n in range(1, 6)
        for m in range(1, 6)
    }
    assert expanded == set(NOTE_PARAMETER_NAMES)
    assert all(parse.is_note_parameter(name) for name in expanded)

    # Aliases: shown as names not read here, each pointing at the parameter the parser suggests.
    aliases = codes(text, "alias-name")
    targets = codes(text, "alias-target")
    assert set(aliases) == set(parse._ALIASES)
    for alias, target in zip(aliases, targets, strict=True):
        assert not parse.is_known_parameter(alias), alias
        assert parse.suggest_parameter(alias) == target
        assert target in listed


def test_every_parameter_has_its_own_rule_and_example_words():
    # A parameter added to the parser shows in the guide at once (the test above); this one asks
    # for its rule to be written in intake/guide.py's RULES, next to the others.
    assert [name for name in known_parameters() if name not in RULES] == []
    assert all(RULES[name][0] for name in known_parameters())


def test_the_sample_body_posts_clean_in_both_modes(agency, vendor_url, post, admin):
    url, _token = vendor_url
    CustomField.objects.create(
        account=agency, entity_type=RecordType.INDIVIDUAL, name="Plan Type", field_type="dropdown",
        options=["Gold", "Silver"],
    )  # fmt: skip
    CustomField.objects.create(
        account=agency, entity_type=RecordType.SALES_RECORD, name="Coverage", field_type="number"
    )
    for mode in (RecordType.INDIVIDUAL, RecordType.SALES_RECORD):
        agency.record_mode = mode
        agency.save()
        url.refresh_from_db()
        guide = build_guide(url, staff=True)
        # A fresh externalID per mode: the sample's own id would answer duplicate the second time.
        body = [(k, v if k != "externalID" else f"x-{mode}") for k, v in guide.sample]
        answer = post(body).json()
        assert answer["result"] == "created", answer
        assert answer["recordType"] == ("individual" if mode == "individual" else "salesRecord")
        assert answer["warnings"] == []


# --- the curl line against a real server ------------------------------------------------


def test_the_printed_curl_line_creates_the_lead_on_a_served_instance(served, agency, staff_member):
    url, token = LeadPostUrl.issue(agency, "NextGen Leads")
    CustomField.objects.create(
        account=agency,
        entity_type=RecordType.INDIVIDUAL,
        name='Plan & "Tier" = x',
        field_type=FieldType.DROPDOWN,
        options=["Gold's plan", "Silver"],
    )
    client = Client()
    client.force_login(staff_member(agency, "nina", Permission.MANAGE_URLS))
    text = page(client.get(guide_path(url)))
    assert token not in text
    set_line, create, dry_run = (
        block(text, "guide-set-url"),
        block(text, "guide-curl"),
        block(text, "guide-curl-test"),
    )
    assert set_line == "LEADPOST_URL='<your Lead Post URL>'"
    lead_post_url = f"{served}/leadpost/{token}"

    def run(command: str, url: str = lead_post_url) -> tuple[str, dict[str, Any]]:
        env = {**os.environ, "LEADPOST_URL": url}
        done = subprocess.run(
            ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
        return head.splitlines()[0], json.loads(body)

    for copied in (lead_post_url, lead_post_url + "/"):  # copied with its slash or without
        status, answer = run(dry_run, copied)
        assert status.endswith(" 200 OK") and answer["result"] == "test", answer
    assert Record.objects.count() == 0
    status, answer = run(create)
    assert status.endswith(" 200 OK"), status
    assert answer["result"] == "created" and answer["warnings"] == [], answer
    record = Record.objects.get(pk=answer["recordId"])
    assert (record.first_name, record.last_name) == ("Jane", "Roe")
    assert record.custom_values.get().value == "Gold's plan"
    status, answer = run(create)
    assert answer["result"] == "duplicate", answer


# --- who may open it --------------------------------------------------------------------


@pytest.mark.parametrize("part", ["", "print/"])
def test_who_may_open_the_guide(client, agency, other_agency, vendor_url, staff_member, part):
    url, _token = vendor_url
    path = guide_path(url, part)
    assert client.get(path).status_code == 302  # to the login page
    for user, status in (
        (staff_member(agency, "nina", Permission.MANAGE_URLS), 200),
        (staff_member(agency, "amy", Permission.VIEW_POST_LOG, Permission.MANAGE_DATA), 403),
        (staff_member(other_agency, "olga", *Permission), 404),
        (User.objects.create_superuser("operator", "ops@example.com", "pw-operator-1"), 200),
    ):
        client.force_login(user)
        response = client.get(path)
        assert response.status_code == status, user.username
        if status == 403:
            assert "Manage Lead Post URLs" in response.content.decode()
    # Ids that are no URL of the account, whatever their shape.
    client.force_login(User.objects.get(username="nina"))
    for bad in ("999999", "0", "1e3", "9" * 40, "%00", "-1"):
        assert client.get(f"/staff/lead-post-urls/{bad}/guide/{part}").status_code == 404


def test_who_may_share_and_revoke(client, agency, other_agency, vendor_url, staff_member):
    url, _token = vendor_url
    assert client.post(guide_path(url, "share/")).status_code == 302
    assert not GuideLink.objects.exists()
    for user, status in (
        (staff_member(agency, "amy", Permission.VIEW_POST_LOG), 403),
        (staff_member(other_agency, "olga", *Permission), 404),
    ):
        client.force_login(user)
        assert client.post(guide_path(url, "share/")).status_code == status
        assert client.post(guide_path(url, "revoke/")).status_code == status
    assert not GuideLink.objects.exists()
    client.force_login(staff_member(agency, "nina", Permission.MANAGE_URLS))
    assert client.get(guide_path(url, "share/")).status_code == 405  # a change is a POST
    share(client, url)
    assert GuideLink.objects.filter(revoked_at__isnull=True).count() == 1


def test_the_change_page_links_the_guide_and_its_shared_link(admin, vendor_url):
    url, _token = vendor_url
    change = f"/staff/intake/leadposturl/{url.pk}/change/"
    text = page(admin.get(change))
    assert guide_path(url) in text and guide_path(url, "print/") in text
    assert "Shared link: none." in text and 'id="revoke-guide"' not in text
    share(admin, url)
    link = GuideLink.objects.get()
    text = page(admin.get(change))
    assert f"begins <code>{link.prefix}</code>" in text and 'id="revoke-guide"' in text
    # The guide box is the only change: the form still saves.
    assert "Vendor&#x27;s guide" in text or "Vendor's guide" in text


# --- the shared link --------------------------------------------------------------------


def test_the_shared_link_opens_without_login_and_holds_no_posting_token(admin, vendor_url):
    url, token = vendor_url
    link_token = share(admin, url)
    assert link_token != token and token not in link_token and link_token not in token
    assert GuideLink.objects.get().token_hash != link_token  # stored hashed

    anonymous = Client()
    response = anonymous.get(f"/guide/{link_token}")
    text = page(response)
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    assert "Posting leads to Datalot" in text
    assert token not in text and url.prefix not in text and url.token_hash not in text
    assert 'id="guide-url-prefix"' not in text
    assert "&lt;your Lead Post URL&gt;" in text
    assert set(codes(text, "param")) == set(known_parameters())
    # The link's token is no posting token.
    posted = anonymous.post(f"/leadpost/{link_token}", "firstName=A&lastName=B", content_type=FORM)
    assert posted.status_code == 404


def test_the_shared_guide_holds_no_value_another_vendor_posted(admin, vendor_url):
    # Posts add value-list entries: another vendor's lead source is the agency's business, not
    # this vendor's. Staff see a few of each list; the shared page shows none.
    url, _token = vendor_url
    other_token = LeadPostUrl.issue(url.account, "Acme Leads")[1]
    body = "firstName=A&lastName=B&leadSource=AcmeCompetitorSource&status=Acme+Hot"
    assert Client().post(f"/leadpost/{other_token}", body, content_type=FORM).status_code == 200
    staff_text = page(admin.get(guide_path(url)))
    assert "AcmeCompetitorSource" in staff_text and "Acme Hot" in staff_text
    shared = page(Client().get(f"/guide/{share(admin, url)}"))
    assert "Posting leads to Datalot" in shared
    assert "AcmeCompetitorSource" not in shared and "Acme Hot" not in shared


def test_a_revoked_or_replaced_link_is_refused_in_words(admin, vendor_url):
    url, _token = vendor_url
    first = share(admin, url)
    second = share(admin, url)  # one live link per URL: this one replaces the first
    anonymous = Client()
    refused = anonymous.get(f"/guide/{first}")
    assert refused.status_code == 404
    assert "revoked or replaced" in refused.content.decode()
    assert refused["X-Robots-Tag"] == "noindex, nofollow"
    assert anonymous.get(f"/guide/{second}/").status_code == 200
    response = admin.post(guide_path(url, "revoke/"), follow=True)
    assert "revoked" in page(response)
    assert anonymous.get(f"/guide/{second}").status_code == 404
    assert GuideLink.objects.filter(revoked_at__isnull=True).count() == 0


@pytest.mark.parametrize("bad", ["x", "A" * 43, "A" * 5000, "%00" * 20, "%ff%fe", "..%2f..%2f"])
def test_a_link_that_never_was_is_refused(client, db, bad):
    response = client.get(f"/guide/{bad}")
    assert response.status_code == 404
    assert "does not work" in response.content.decode()


def test_the_shared_link_is_rate_limited(admin, vendor_url):
    url, _token = vendor_url
    link_token = share(admin, url)
    anonymous = Client()
    answers = [anonymous.get(f"/guide/{link_token}").status_code for _ in range(31)]
    assert answers[:30] == [200] * 30
    assert answers[30] == 429
    refused = anonymous.get(f"/guide/{link_token}")
    assert refused["Retry-After"] == "60" and "Too many requests" in refused.content.decode()


# --- what the guide shows of the account ------------------------------------------------


def test_hostile_custom_fields_are_shown_escaped_and_cut(admin, agency, other_agency, vendor_url):
    url, _token = vendor_url
    CustomField.objects.create(
        account=agency,
        entity_type=RecordType.INDIVIDUAL,
        name="<script>alert(1)</script>\x01",
        field_type=FieldType.CHECKBOX_LIST,
        options=["<b>bold</b>", "x" * 1_000_000, "123-45-6789"],
    )
    CustomField.objects.create(
        account=agency, entity_type=RecordType.INDIVIDUAL, name="Old", field_type="text",
        active=False,
    )  # fmt: skip
    CustomField.objects.create(
        account=agency, entity_type=RecordType.SALES_RECORD, name="Sales only", field_type="text"
    )
    CustomField.objects.create(
        account=other_agency, entity_type=RecordType.INDIVIDUAL, name="Theirs", field_type="text"
    )
    text = page(admin.get(guide_path(url)))
    assert "<script>" not in text and "<b>bold" not in text
    assert "custom_&lt;script&gt;alert(1)&lt;/script&gt;\N{REPLACEMENT CHARACTER}" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text
    assert "x" * 1000 not in text and len(text) < 200_000
    assert "123-45-6789" not in text and "***-**-6789" in text
    # The sample posts an existing option exactly, never a cut or masked one.
    assert "custom_%3Cscript" not in block(text, "guide-sample-body")  # a control character
    params = codes(text, "custom-param")
    assert params == ["custom_<script>alert(1)</script>\N{REPLACEMENT CHARACTER}"]
    assert "Theirs" not in text and "Sales only" not in text and "custom_Old" not in text


def test_printable_makes_nul_and_control_characters_visible():
    assert printable("a\x00b\x1fc\u202ed") == "a\ufffdb\ufffdc\ufffdd"
    assert printable("y" * 500, 10) == "y" * 9 + "…"


def test_an_account_without_custom_fields_says_so(admin, vendor_url):
    text = page(admin.get(guide_path(vendor_url[0])))
    assert 'id="guide-no-custom"' in text


def test_sales_record_mode_lists_the_ignored_parameters_apart(admin, agency, vendor_url):
    url, _token = vendor_url
    agency.record_mode = RecordType.SALES_RECORD
    agency.save()
    CustomField.objects.create(
        account=agency, entity_type=RecordType.SALES_RECORD, name="Coverage", field_type="currency"
    )
    text = page(admin.get(guide_path(url)))
    assert set(codes(text, "param ignored")) == set(parse.INDIVIDUAL_ONLY)
    read = codes(text, "param")
    assert not set(read) & set(parse.INDIVIDUAL_ONLY)
    assert set(read) | set(parse.INDIVIDUAL_ONLY) == set(known_parameters())
    assert codes(text, "custom-param") == ["custom_Coverage"]
    assert "Sales Record" in text and "Auto" in text
    body = block(text, "guide-sample-body")
    assert "custom_Coverage=" in body
    assert not any(f"{name}=" in body for name in parse.INDIVIDUAL_ONLY)


def test_the_answers_and_the_dry_run_are_explained(admin, vendor_url):
    text = page(admin.get(guide_path(vendor_url[0])))
    results = codes(text, "result")
    for result in ("created", "duplicate", "rejected", "test", "over_cap"):
        assert result in results
    assert "Retry-After" in text and "/test" in block(text, "guide-curl-test")
    for status in ("400", "404", "413", "415", "429", "503"):
        assert f"<td>{status}</td>" in text


def test_the_curl_line_quotes_hostile_names_and_values_for_the_shell(admin, agency, vendor_url):
    url, _token = vendor_url
    CustomField.objects.create(
        account=agency,
        entity_type=RecordType.INDIVIDUAL,
        name="<img src=x onerror=alert(1)> & $(id)",
        field_type=FieldType.DROPDOWN,
        options=["'; rm -rf ~; echo '`id`", "Other"],
    )
    text = page(admin.get(guide_path(url)))
    assert "<img" not in text
    command = shlex.split(block(text, "guide-curl"))
    assert command[:4] == ["curl", "-sS", "-i", "$LEADPOST_URL"]
    pairs = [command[i + 1] for i, word in enumerate(command) if word == "--data-urlencode"]
    name, _, value = pairs[-1].partition("=")
    assert unquote_plus(name) == "custom_<img src=x onerror=alert(1)> & $(id)"
    assert value == "'; rm -rf ~; echo '`id`"
    assert parse_qsl(block(text, "guide-sample-body"))[-1] == (unquote_plus(name), value)


def test_a_field_with_thousands_of_options_shows_some(admin, agency, vendor_url):
    url, _token = vendor_url
    CustomField.objects.create(
        account=agency,
        entity_type=RecordType.INDIVIDUAL,
        name="Carrier",
        field_type=FieldType.CHECKBOX_LIST,
        options=[f"Carrier {n}" for n in range(5000)],
    )
    text = page(admin.get(guide_path(url)))
    assert "Carrier 49<" in text and "Carrier 50<" not in text and "and 4950 more" in text
    assert "custom_Carrier=Carrier+0%7C%7CCarrier+1" in block(text, "guide-sample-body")


def test_the_shared_guide_of_a_disabled_url_says_posts_get_404(admin, vendor_url):
    url, _token = vendor_url
    link_token = share(admin, url)
    LeadPostUrl.objects.filter(pk=url.pk).disable()
    text = page(Client().get(f"/guide/{link_token}"))
    assert "This URL is disabled at the moment: posts to it get 404." in text


def test_the_links_of_one_url_are_its_own(admin, agency, vendor_url):
    url, _token = vendor_url
    other, _ = LeadPostUrl.issue(agency, "NextGen Leads")
    first = share(admin, url)
    share(admin, other)  # sharing another URL's guide leaves this one's link live
    assert "Posting leads to Datalot" in page(Client().get(f"/guide/{first}"))
    admin.post(guide_path(other, "revoke/"))
    assert Client().get(f"/guide/{first}").status_code == 200
