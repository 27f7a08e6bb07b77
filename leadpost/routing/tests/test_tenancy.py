"""Rules, pools, workflows and agents never point at another account's rows (SPEC §10).

The models refuse it whoever edits them (the operators' admin, the staff pages, code); routing
checks it again where it reads, for rows that predate the rule.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.utils import timezone

from leadpost.accounts.models import Account, User
from leadpost.intake.actions import Client as Vendor
from leadpost.intake.actions import receive_lead
from leadpost.intake.lead import DecodedForm
from leadpost.intake.models import LeadPostUrl
from leadpost.intake.views import answer
from leadpost.records.models import CustomField
from leadpost.routing.models import AgentProfile, PoolMember, RoutingRule, SalesWorkflow

AUTO = {
    "firstName": "Lee",
    "lastName": "Dee",
    "servicingAgentFirstName": "Auto",
    "stateAbbrev": "IA",
}


@pytest.fixture
def operator(db: None) -> User:
    return User.objects.create_superuser("root-ops", "root-ops@leadpost.example", "pw-ops-7710x")


def agent(account: Account, first: str) -> User:
    user = User.objects.create(
        account=account, username=first.lower(), first_name=first, last_name="Agent"
    )
    AgentProfile.objects.create(user=user, licensed_states=["IA"])
    return user


@pytest.fixture
def ann(premium: Account) -> User:
    return agent(premium, "Ann")


@pytest.fixture
def otto(other_agency: Account) -> User:
    return agent(other_agency, "Otto")


@pytest.fixture
def iowa(premium: Account) -> RoutingRule:
    return RoutingRule.objects.create(account=premium, name="Iowa", states=["IA"])


@pytest.fixture
def their_field(other_agency: Account) -> CustomField:
    return CustomField.objects.create(
        account=other_agency, entity_type="sales_record", name="Product", field_type="text"
    )


@pytest.fixture
def their_url(other_agency: Account) -> LeadPostUrl:
    return LeadPostUrl.issue(other_agency, "Otter Leads")[0]


def routed_to(url: LeadPostUrl, **params: str) -> str | None:
    """Post an "Auto" lead as the endpoint does, reading the URL and its account afresh."""
    outcome = answer(
        receive_lead(
            LeadPostUrl.objects.select_related("account").get(pk=url.pk),
            DecodedForm(params={**AUTO, **params}, warnings=[]),
            received_at=timezone.now(),
            client=Vendor(ip="203.0.113.9", user_agent="test"),
        )
    )
    agent = outcome.body.get("servicingAgent")
    return agent["firstName"] if agent else None


# ------------------------------------------------------------------ the models refuse it


def test_a_pool_member_of_another_account_is_refused(iowa, otto):
    member = PoolMember(rule=iowa, agent=otto)
    with pytest.raises(ValidationError, match="not a user of Hawkeye Insurance"):
        member.full_clean()
    with pytest.raises(ValidationError, match="not a user of Hawkeye Insurance"):
        member.save()
    assert not PoolMember.objects.exists()


def test_an_operator_cannot_be_in_a_pool(iowa, operator):
    with pytest.raises(ValidationError, match="not a user of Hawkeye Insurance"):
        PoolMember.objects.create(rule=iowa, agent=operator)


def test_a_rules_custom_field_of_another_account_is_refused(iowa, their_field):
    iowa.custom_field = their_field
    iowa.custom_value = "Life"
    with pytest.raises(ValidationError, match="another account"):
        iowa.full_clean()
    with pytest.raises(ValidationError, match="another account"):
        iowa.save()
    assert RoutingRule.objects.get(pk=iowa.pk).custom_field_id is None


def test_lead_post_urls_of_another_account_are_refused(premium, iowa, their_url, vendor_url):
    workflow = SalesWorkflow.objects.create(account=premium, name="Welcome")
    for owner in (iowa, workflow):
        with pytest.raises(ValidationError, match="another account"), transaction.atomic():
            owner.lead_post_urls.add(their_url)
        with pytest.raises(ValidationError, match="another account"), transaction.atomic():
            owner.lead_post_urls.set([vendor_url[0], their_url])
        assert not owner.lead_post_urls.exists()
    with pytest.raises(ValidationError, match="another account"), transaction.atomic():
        their_url.routingrule_set.add(iowa)
    iowa.lead_post_urls.add(vendor_url[0])  # the account's own URL is fine
    assert list(iowa.lead_post_urls.all()) == [vendor_url[0]]


def test_an_agent_profile_needs_a_user_of_an_account(operator, db):
    drifter = User.objects.create_user("drifter")
    for user in (operator, drifter):
        with pytest.raises(ValidationError, match="not a member of an account"):
            AgentProfile(user=user).full_clean()
        with pytest.raises(ValidationError, match="not a member of an account"):
            AgentProfile.objects.create(user=user)
    assert not AgentProfile.objects.exists()


# ------------------------------------------------------------------ the operators' admin refuses it


def rule_form(account: Account, **fields: object) -> dict[str, object]:
    return {
        "account": str(account.pk),
        "name": "Iowa",
        "priority": "1",
        "active": "on",
        "states": "IA",
        "zip_prefixes": "",
        "lead_sources": "",
        "custom_value": "",
        "pool-TOTAL_FORMS": "0",
        "pool-INITIAL_FORMS": "0",
        **fields,
    }


@pytest.mark.parametrize("site", ["/admin/", "/staff/"])
def test_operators_pages_refuse_a_pool_member_of_another_account(
    client: Client, premium, otto, operator, site
):
    client.force_login(operator)
    response = client.post(
        f"{site}routing/routingrule/add/",
        rule_form(
            premium,
            **{
                "pool-TOTAL_FORMS": "1",
                "pool-0-order": "0",
                "pool-0-agent": str(otto.pk),
                "pool-0-weight": "1",
            },
        ),
    )
    assert response.status_code == 200
    assert "not a user of Hawkeye Insurance" in response.content.decode()
    assert not RoutingRule.objects.exists()


@pytest.mark.parametrize("site", ["/admin/", "/staff/"])
def test_operators_pages_refuse_a_custom_field_or_urls_of_another_account(
    client: Client, premium, their_field, their_url, operator, site
):
    client.force_login(operator)
    field = client.post(
        f"{site}routing/routingrule/add/",
        rule_form(premium, custom_field=str(their_field.pk), custom_value="Life"),
    )
    urls = client.post(
        f"{site}routing/routingrule/add/", rule_form(premium, lead_post_urls=[their_url.pk])
    )
    workflow = client.post(
        f"{site}routing/salesworkflow/add/",
        {
            "account": str(premium.pk),
            "name": "Welcome",
            "order": "1",
            "active": "on",
            "states": "",
            "lead_sources": "",
            "lead_post_urls": [their_url.pk],
            "actions-TOTAL_FORMS": "0",
            "actions-INITIAL_FORMS": "0",
        },
    )
    for response in (field, urls, workflow):
        assert response.status_code == 200
        assert "another account" in response.content.decode()
    assert not RoutingRule.objects.exists() and not SalesWorkflow.objects.exists()


def test_operators_admin_refuses_an_agent_profile_without_an_account(client: Client, operator):
    client.force_login(operator)
    response = client.post(
        "/admin/routing/agentprofile/add/",
        {"user": str(operator.pk), "licensed_states": "IA", "receives_leads": "on"},
    )
    assert response.status_code == 200
    assert "not a member of an account" in response.content.decode()
    assert not AgentProfile.objects.exists()


# ------------------------------------------------------------------ routing checks it again


def test_routing_skips_pool_members_of_another_account(premium, iowa, ann, otto, vendor_url):
    # Rows from before the rule (bulk_create skips the models' checks, as old data would).
    PoolMember.objects.bulk_create(
        [PoolMember(rule=iowa, agent=otto, order=0), PoolMember(rule=iowa, agent=ann, order=1)]
    )
    url = vendor_url[0]
    assert [routed_to(url) for _ in range(3)] == ["Ann", "Ann", "Ann"]


def test_routing_ignores_a_fallback_agent_of_another_account(premium, otto, vendor_url):
    Account.objects.filter(pk=premium.pk).update(fallback_agent=otto)
    assert routed_to(vendor_url[0]) is None


def test_a_rule_on_another_accounts_custom_field_matches_no_lead(
    premium, iowa, ann, their_field, vendor_url
):
    PoolMember.objects.create(rule=iowa, agent=ann)
    RoutingRule.objects.filter(pk=iowa.pk).update(custom_field=their_field, custom_value="Life")
    assert routed_to(vendor_url[0], custom_Product="Life") is None
