from django.db import migrations
from django.db.models import F


def drop_links_across_accounts(apps, schema_editor):
    """Links from before the rule that nothing points at another account's rows (SPEC §10).

    Nothing of the other account is gained by them: a group of another account grants nothing
    (permissions are read from the user's own account's groups), and routing no longer takes
    another account's fallback agent.
    """
    User = apps.get_model("accounts", "User")
    Account = apps.get_model("accounts", "Account")
    Membership = User.security_groups.through
    Membership.objects.exclude(securitygroup__account_id=F("user__account_id")).delete()
    Account.objects.filter(fallback_agent__isnull=False).exclude(
        fallback_agent__account_id=F("pk")
    ).update(fallback_agent=None)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0005_operators_are_not_members"),
    ]

    operations = [
        migrations.RunPython(drop_links_across_accounts, migrations.RunPython.noop),
    ]
