from django.db import migrations
from django.db.models import F


def drop_links_across_accounts(apps, schema_editor):
    """Rows from before the rule that nothing points at another account's rows (SPEC §10).

    Routing already ignores them, and what it did with them is kept: a pool member of another
    account (or an operator) never took a lead, so the row goes. A condition on another
    account's custom field or Lead Post URL was never met, so dropping it alone would widen the
    rule or workflow to every lead: one left without its condition is switched off instead, for
    the agency to look at.
    """
    PoolMember = apps.get_model("routing", "PoolMember")
    RoutingRule = apps.get_model("routing", "RoutingRule")
    SalesWorkflow = apps.get_model("routing", "SalesWorkflow")
    PoolMember.objects.exclude(agent__account_id=F("rule__account_id")).delete()
    foreign_field = RoutingRule.objects.filter(custom_field__isnull=False).exclude(
        custom_field__account_id=F("account_id")
    )
    foreign_field.update(custom_field=None, active=False)
    for model in (RoutingRule, SalesWorkflow):
        links = model.lead_post_urls.through.objects
        owner = model._meta.model_name
        foreign = links.exclude(leadposturl__account_id=F(f"{owner}__account_id"))
        touched = set(foreign.values_list(f"{owner}_id", flat=True))
        foreign.delete()
        emptied = touched - set(
            links.filter(**{f"{owner}_id__in": touched}).values_list(f"{owner}_id", flat=True)
        )
        model.objects.filter(pk__in=emptied).update(active=False)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0006_drop_links_across_accounts"),
        ("routing", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(drop_links_across_accounts, migrations.RunPython.noop),
    ]
