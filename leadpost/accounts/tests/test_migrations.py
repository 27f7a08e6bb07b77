"""Rows from before the tenancy rules (SPEC §10) are made to keep them by the migrations.

The database is taken back to before those migrations, given rows only the old code allowed
(written around the models' checks, as old rows were), and migrated forward again.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("accounts", "0003_account_fallback_agent_account_premium_workflows"),
    ("routing", "0001_initial"),
]


def migrate(targets: list[tuple[str, str]] | None = None) -> Any:
    """Migrate to `targets` (default: the latest) and return the models as they were there."""
    executor = MigrationExecutor(connection)
    return executor.migrate(targets or executor.loader.graph.leaf_nodes()).apps


@pytest.mark.django_db(transaction=True)
def test_migrations_detach_operators_and_drop_links_across_accounts():
    # The rows are written with the models of that time: today's have columns the tables lack.
    old = migrate(BEFORE)
    try:
        Account = old.get_model("accounts", "Account")
        SecurityGroup = old.get_model("accounts", "SecurityGroup")
        User = old.get_model("accounts", "User")
        LeadPostUrl = old.get_model("intake", "LeadPostUrl")
        CustomField = old.get_model("records", "CustomField")
        RoutingRule = old.get_model("routing", "RoutingRule")
        PoolMember = old.get_model("routing", "PoolMember")
        SalesWorkflow = old.get_model("routing", "SalesWorkflow")
        ours = Account.objects.create(name="Hawkeye Insurance")
        theirs = Account.objects.create(name="Cornbelt Mutual")
        group = SecurityGroup.objects.create(account=ours, name="Quill Agents")
        their_group = SecurityGroup.objects.create(account=theirs, name="Otter Admins")
        alice, otto, root, clerk = User.objects.bulk_create(
            [
                User(username="alice", account=ours),
                User(username="otto", account=theirs),
                User(username="root", account=ours, is_superuser=True, is_staff=True),
                User(username="clerk", account=ours, is_staff=True),
            ]
        )
        Membership = User.security_groups.through
        Membership.objects.bulk_create(
            [
                Membership(user=alice, securitygroup=group),
                Membership(user=alice, securitygroup=their_group),
                Membership(user=root, securitygroup=group),
            ]
        )
        Account.objects.filter(pk=ours.pk).update(fallback_agent=root)
        Account.objects.filter(pk=theirs.pk).update(fallback_agent=alice)
        their_field = CustomField.objects.create(
            account=theirs, entity_type="sales_record", name="Product", field_type="text"
        )
        url = LeadPostUrl.objects.create(account=ours, label="Datalot", token_hash="a" * 64)
        their_url = LeadPostUrl.objects.create(account=theirs, label="Otter", token_hash="b" * 64)
        iowa, _, via_theirs, via_both = RoutingRule.objects.bulk_create(
            [
                RoutingRule(account=ours, name="Iowa"),
                RoutingRule(account=ours, name="Product", custom_field=their_field),
                RoutingRule(account=ours, name="Via theirs"),
                RoutingRule(account=ours, name="Via both"),
            ]
        )
        PoolMember.objects.bulk_create(
            [
                PoolMember(rule=iowa, agent=alice, order=0),
                PoolMember(rule=iowa, agent=otto, order=1),
                PoolMember(rule=iowa, agent=root, order=2),
            ]
        )
        Links = RoutingRule.lead_post_urls.through
        Links.objects.bulk_create(
            [
                Links(routingrule=via_theirs, leadposturl=their_url),
                Links(routingrule=via_both, leadposturl=their_url),
                Links(routingrule=via_both, leadposturl=url),
            ]
        )
        (workflow,) = SalesWorkflow.objects.bulk_create([SalesWorkflow(account=ours, name="W")])
        SalesWorkflow.lead_post_urls.through.objects.create(
            salesworkflow=workflow, leadposturl=their_url
        )
    finally:
        migrate()

    from leadpost.accounts.models import Account, User
    from leadpost.intake.models import LeadPostUrl
    from leadpost.routing.models import PoolMember, RoutingRule, SalesWorkflow

    url = LeadPostUrl.objects.get(pk=url.pk)
    root = User.objects.get(username="root")
    clerk = User.objects.get(username="clerk")
    assert (root.account_id, root.is_superuser, list(root.security_groups.all())) == (
        None,
        True,
        [],
    )
    assert (clerk.account_id, clerk.is_staff) == (ours.pk, False)
    alice = User.objects.get(username="alice")
    assert [g.name for g in alice.security_groups.all()] == ["Quill Agents"]
    assert Account.objects.get(pk=ours.pk).fallback_agent_id is None
    assert Account.objects.get(pk=theirs.pk).fallback_agent_id is None
    assert [m.agent.username for m in PoolMember.objects.filter(rule__name="Iowa")] == ["alice"]
    rules = {rule.name: rule for rule in RoutingRule.objects.all()}
    assert (rules["Product"].custom_field_id, rules["Product"].active) == (None, False)
    assert (list(rules["Via theirs"].lead_post_urls.all()), rules["Via theirs"].active) == (
        [],
        False,
    )
    assert (list(rules["Via both"].lead_post_urls.all()), rules["Via both"].active) == (
        [url],
        True,
    )
    assert rules["Iowa"].active
    workflow = SalesWorkflow.objects.get()
    assert (list(workflow.lead_post_urls.all()), workflow.active) == ([], False)
