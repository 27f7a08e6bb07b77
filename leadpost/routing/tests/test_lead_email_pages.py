"""The pages of agent e-mails (SPEC §12): a record's "Change agent" page, and each user's own
"My lead e-mails" switch. Both change rows, so both are attacked: another account's record or
user, an inactive user, ids that are not ids, a missing CSRF token, someone else's switch."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone

from leadpost.accounts.models import Account, Permission, User
from leadpost.intake.actions import Client as Vendor
from leadpost.intake.actions import receive_lead
from leadpost.intake.lead import DecodedForm
from leadpost.intake.models import LeadPostUrl
from leadpost.intake.views import answer
from leadpost.records.models import Record
from leadpost.routing.models import AgentNotification, AgentProfile

StaffFn = Callable[..., User]


def new_record(url: LeadPostUrl, **params: str) -> Record:
    outcome = answer(
        receive_lead(
            url,
            DecodedForm(params={"firstName": "Lee", "lastName": "Dee", **params}, warnings=[]),
            received_at=timezone.now(),
            client=Vendor(ip="203.0.113.9", user_agent="test"),
        )
    )
    assert outcome.status == 200, outcome.body
    return Record.objects.get(pk=outcome.body["recordId"])


@pytest.fixture
def record(vendor_url) -> Record:
    return new_record(vendor_url[0])


@pytest.fixture
def boss(agency: Account, staff_member: StaffFn) -> Client:
    page = Client()
    page.force_login(staff_member(agency, "boss", Permission.MANAGE_DATA))
    return page


def agent_page(record: Record) -> str:
    model = "salesrecord" if record.record_type == "sales_record" else "individual"
    return f"/staff/records/{model}/{record.pk}/agent/"


def options(html: str) -> list[str]:
    return re.findall(r"<option value=\"\d+\"[^>]*>([^<]*)</option>", html)


# ------------------------------------------------------------------ Change agent


def test_the_record_page_links_to_change_agent_which_offers_the_accounts_active_users(
    boss, record, ann, ben, agency, other_agency, staff_member
):
    User.objects.create(account=agency, username="gone", first_name="Gone", is_active=False)
    User.objects.create(account=other_agency, username="theirs", first_name="Their", last_name="X")
    User.objects.create_superuser("root-ops", "root@leadpost.example", "pw-ops-7710x")
    html = boss.get(f"/staff/records/individual/{record.pk}/change/").content.decode()
    assert f'href="{agent_page(record)}"' in html and "Change agent" in html
    page = boss.get(agent_page(record))
    assert page.status_code == 200
    offered = options(page.content.decode())
    assert "Ann Agent (ann@agency.example)" in offered
    assert "Ben Agent (ben@agency.example)" in offered
    assert not [o for o in offered if "Gone" in o or "Their" in o or "root" in o]


def test_a_user_without_manage_data_neither_sees_the_link_nor_changes_the_agent(
    record, ann, agency, staff_member
):
    viewer = Client()
    viewer.force_login(staff_member(agency, "viewer", Permission.VIEW_POST_LOG))
    html = viewer.get(f"/staff/records/individual/{record.pk}/change/").content.decode()
    assert "Change agent" not in html
    assert viewer.get(agent_page(record)).status_code == 403
    assert viewer.post(agent_page(record), {"agent": ann.pk}).status_code == 403
    record.refresh_from_db()
    assert record.servicing_agent is None and not AgentNotification.objects.exists()


def test_a_sales_record_needs_sales_enablement_too_and_an_agent_who_sees_it(
    premium, vendor_url, ann, staff_member
):
    record = new_record(vendor_url[0])
    assert record.record_type == "sales_record"
    no_sales = Client()
    no_sales.force_login(staff_member(premium, "data", Permission.MANAGE_DATA))
    assert no_sales.post(agent_page(record), {"agent": ann.pk}).status_code == 403
    boss = Client()
    boss.force_login(
        staff_member(premium, "boss", Permission.MANAGE_DATA, Permission.SALES_ENABLEMENT)
    )
    blind = User.objects.create(account=premium, username="blind", first_name="Blind")
    assert "Blind" not in "".join(options(boss.get(agent_page(record)).content.decode()))
    assert boss.post(agent_page(record), {"agent": blind.pk}).status_code == 400
    assert boss.post(agent_page(record), {"agent": ann.pk}).status_code == 302
    record.refresh_from_db()
    assert record.servicing_agent == ann


@pytest.mark.parametrize(
    "tampered",
    ["", "abc", "-1", "0", "1 OR 1=1", "9" * 40, "1\x00", "[1]", "x" * 1_000_000],
)
def test_a_tampered_agent_id_is_refused_and_changes_nothing(boss, record, ann, tampered):
    response = boss.post(agent_page(record), {"agent": tampered})
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode()
    record.refresh_from_db()
    assert record.servicing_agent is None and not AgentNotification.objects.exists()


def test_another_accounts_user_or_an_inactive_one_is_refused(boss, record, other_agency, agency):
    theirs = User.objects.create(account=other_agency, username="theirs", first_name="Their")
    gone = User.objects.create(account=agency, username="gone", first_name="Gone", is_active=False)
    operator = User.objects.create_superuser("root-ops", "root@leadpost.example", "pw")
    for user in (theirs, gone, operator):
        response = boss.post(agent_page(record), {"agent": user.pk})
        assert response.status_code == 400
        assert "Choose one of the agents listed" in response.content.decode()
    record.refresh_from_db()
    assert record.servicing_agent is None and not AgentNotification.objects.exists()


def test_another_accounts_record_is_not_found(record, ann, other_agency, staff_member):
    outsider = Client()
    outsider.force_login(staff_member(other_agency, "outsider", *Permission))
    assert outsider.get(agent_page(record)).status_code == 404
    assert outsider.post(agent_page(record), {"agent": ann.pk}).status_code == 404
    their_agent = staff_member(other_agency, "their-agent", Permission.SALES_ENABLEMENT)
    assert outsider.post(agent_page(record), {"agent": their_agent.pk}).status_code == 404
    # A Sales Record's id on the Individual's page (and the other way) is no record either.
    assert outsider.get("/staff/records/salesrecord/999999/agent/").status_code == 404
    record.refresh_from_db()
    assert record.servicing_agent is None and not AgentNotification.objects.exists()


def test_an_individual_is_not_found_on_the_sales_record_page(boss, record, ann):
    page = f"/staff/records/salesrecord/{record.pk}/agent/"
    assert boss.post(page, {"agent": ann.pk}).status_code == 404
    record.refresh_from_db()
    assert record.servicing_agent is None


def test_changing_the_agent_needs_the_pages_csrf_token(record, ann, agency, staff_member):
    page = Client(enforce_csrf_checks=True)
    page.force_login(staff_member(agency, "boss", Permission.MANAGE_DATA))
    assert page.post(agent_page(record), {"agent": ann.pk}).status_code == 403
    record.refresh_from_db()
    assert record.servicing_agent is None
    form = page.get(agent_page(record)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token is not None
    answered = page.post(agent_page(record), {"agent": ann.pk, "csrfmiddlewaretoken": token[1]})
    assert answered.status_code == 302
    assert answered["Location"] == f"/staff/records/individual/{record.pk}/change/"
    # The record's page then shows the agent and the state of the e-mail to them.
    html = page.get(answered["Location"]).content.decode()
    assert "Ann Agent is now this record&#x27;s agent" in html
    assert re.search(r"Ann Agent — waiting to be sent", html)
    record.refresh_from_db()
    assert record.servicing_agent == ann
    assert AgentNotification.objects.get(record=record).agent == ann


def test_an_agent_deactivated_meanwhile_is_refused_by_the_action(boss, record, ann):
    from leadpost.routing.actions import assign_agent

    User.objects.filter(pk=ann.pk).update(is_active=False)
    ann.refresh_from_db()
    with pytest.raises(ValueError):
        assign_agent(record, ann)
    assert boss.post(agent_page(record), {"agent": ann.pk}).status_code == 400


# ------------------------------------------------------------------ My lead e-mails


def test_each_user_turns_only_their_own_lead_emails_off_and_on(ann, ben, agency, staff_member):
    page = Client()
    page.force_login(ann)
    html = page.get("/staff/").content.decode()
    assert 'href="/staff/my-lead-emails/"' in html
    shown = page.get("/staff/my-lead-emails/").content.decode()
    assert "Lead e-mails are <strong>on</strong>" in shown and "ann@agency.example" in shown
    # Whatever user the form is made to name, the page changes the one logged in.
    response = page.post("/staff/my-lead-emails/", {"user": ben.pk, "user_id": ben.pk})
    assert response.status_code == 302
    assert AgentProfile.objects.get(user=ann).notify_new_leads is False
    assert AgentProfile.objects.get(user=ben).notify_new_leads is True
    shown = page.get("/staff/my-lead-emails/").content.decode()
    assert "Lead e-mails are <strong>off</strong>" in shown
    assert "will not be e-mailed" in shown
    page.post("/staff/my-lead-emails/", {"notify_new_leads": "on"})
    assert AgentProfile.objects.get(user=ann).notify_new_leads is True


def test_a_user_without_an_agent_profile_gets_one_by_turning_emails_off(agency, staff_member):
    clerk = staff_member(agency, "clerk")
    page = Client()
    page.force_login(clerk)
    assert page.get("/staff/my-lead-emails/").status_code == 200
    assert not AgentProfile.objects.filter(user=clerk).exists()  # looking changes nothing
    assert page.post("/staff/my-lead-emails/", {}).status_code == 302
    profile = AgentProfile.objects.get(user=clerk)
    assert (profile.notify_new_leads, profile.receives_leads, profile.licensed_states) == (
        False,
        True,
        [],
    )


def test_operators_and_visitors_have_no_lead_emails_page(db, client):
    assert client.get("/staff/my-lead-emails/")["Location"].startswith("/staff/login/")
    assert client.post("/staff/my-lead-emails/", {})["Location"].startswith("/staff/login/")
    root = User.objects.create_superuser("root-ops", "root@leadpost.example", "pw")
    client.force_login(root)
    assert client.post("/staff/my-lead-emails/", {}).status_code == 403
    assert not AgentProfile.objects.exists()


def test_the_agent_form_shows_the_agents_choice_and_cannot_change_it(ann, agency, staff_member):
    AgentProfile.objects.filter(user=ann).update(notify_new_leads=False)
    profile = AgentProfile.objects.get(user=ann)
    page = Client()
    page.force_login(staff_member(agency, "manager", Permission.MANAGE_USERS))
    html = page.get(f"/staff/routing/agentprofile/{profile.pk}/change/").content.decode()
    assert "off (the agent&#x27;s own choice, on their “My lead e-mails” page)" in html
    response = page.post(
        f"/staff/routing/agentprofile/{profile.pk}/change/",
        {
            "user": ann.pk,
            "licensed_states": "IA",
            "receives_leads": "on",
            "available": "on",
            "notify_new_leads": "on",
            "daily_cap": "",
        },
    )
    assert response.status_code == 302
    assert AgentProfile.objects.get(pk=profile.pk).notify_new_leads is False
