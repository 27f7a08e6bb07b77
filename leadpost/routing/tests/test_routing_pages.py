"""The staff pages of routing: rules, agents, workflows (need Manage Users & Security Groups)."""

from __future__ import annotations

from leadpost.accounts.models import Account, SecurityGroup, User
from leadpost.routing.models import AgentProfile, PoolMember, RoutingRule


def member(account: Account, username: str, **grants: bool) -> User:
    group = SecurityGroup.objects.create(account=account, name=f"{username} group", **grants)
    user = User.objects.create_user(
        username, password="pw", account=account, first_name=username.title(), last_name="Staff"
    )
    user.security_groups.add(group)
    return user


def test_admin_sets_up_a_weighted_rule_and_sees_why_a_lead_went_to_whom(client, premium, post):
    boss = member(premium, "boss", manage_users=True, sales_enablement_visible=True)
    ann = User.objects.create(account=premium, username="ann", first_name="Ann", last_name="Agent")
    ben = User.objects.create(account=premium, username="ben", first_name="Ben", last_name="Agent")
    client.force_login(boss)
    for agent in (ann, ben):
        response = client.post(
            "/staff/routing/agentprofile/add/",
            {
                "user": agent.pk,
                "licensed_states": "ia",
                "receives_leads": "on",
                "available": "on",
            },
        )
        assert response.status_code == 302
    response = client.post(
        "/staff/routing/routingrule/add/",
        {
            "name": "Iowa",
            "priority": "1",
            "active": "on",
            "states": "ia",
            "zip_prefixes": "",
            "lead_sources": "",
            "custom_value": "",
            "pool-TOTAL_FORMS": "2",
            "pool-INITIAL_FORMS": "0",
            "pool-0-order": "0",
            "pool-0-agent": ann.pk,
            "pool-0-weight": "2",
            "pool-1-order": "1",
            "pool-1-agent": ben.pk,
            "pool-1-weight": "1",
        },
    )
    assert response.status_code == 302
    rule = RoutingRule.objects.get(name="Iowa")
    assert (rule.account, rule.states) == (premium, ["IA"])
    assert AgentProfile.objects.get(user=ann).licensed_states == ["IA"]

    leads = [
        post(
            {
                "firstName": f"L{i}",
                "lastName": "X",
                "servicingAgentFirstName": "Auto",
                "stateAbbrev": "IA",
            }
        ).json()
        for i in range(3)
    ]
    assert [lead["servicingAgent"]["firstName"] for lead in leads] == ["Ann", "Ben", "Ann"]
    page = client.get(f"/staff/records/salesrecord/{leads[1]['recordId']}/change/")
    assert "Assigned to <strong>Ben Agent</strong> by rule “Iowa”" in page.content.decode()
    agents = client.get("/staff/routing/agentprofile/").content.decode()
    assert '<td class="field-routed_today">2</td>' in agents  # Ann's two leads today


def test_unlicensed_states_are_refused_with_a_clear_error(client, premium):
    boss = member(premium, "boss", manage_users=True)
    client.force_login(boss)
    response = client.post(
        "/staff/routing/routingrule/add/",
        {
            "name": "Bad",
            "priority": "1",
            "states": "Iowa",
            "zip_prefixes": "",
            "lead_sources": "",
            "custom_value": "",
            "pool-TOTAL_FORMS": "0",
            "pool-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "Not USPS state codes: IOWA" in response.content.decode()


def test_routing_pages_need_manage_users_and_stay_in_the_account(client, premium, other_agency):
    clerk = member(premium, "clerk", view_post_log=True)
    client.force_login(clerk)
    assert client.get("/staff/routing/routingrule/").status_code == 403
    theirs = RoutingRule.objects.create(account=other_agency, name="Their secret rule")
    outsider = member(other_agency, "olga", manage_users=True)
    mine = RoutingRule.objects.create(account=premium, name="Our rule")
    PoolMember.objects.create(rule=mine, agent=clerk)
    client.force_login(outsider)
    listing = client.get("/staff/routing/routingrule/").content.decode()
    assert "Their secret rule" in listing and "Our rule" not in listing
    assert (
        "Our rule"
        not in client.get(
            f"/staff/routing/routingrule/{mine.pk}/change/", follow=True
        ).content.decode()
    )
    add_page = client.get("/staff/routing/routingrule/add/").content.decode()
    assert f'<option value="{clerk.pk}">' not in add_page  # our agents are not offered to them
    assert theirs.account == other_agency
