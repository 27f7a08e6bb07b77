from django.db import migrations
from django.db.models import Q


def detach_operators(apps, schema_editor):
    """Rows from before the rule, made to keep it before the database enforces it (SPEC §10).

    A superuser is an operator: they keep the role, leave the account and any security group,
    and stop being any account's fallback agent. Staff status alone only opens the operators'
    admin, which no member of an account needs: members keep their account and lose the flag.
    """
    User = apps.get_model("accounts", "User")
    Account = apps.get_model("accounts", "Account")
    Membership = User.security_groups.through
    User.objects.filter(is_superuser=False, is_staff=True, account__isnull=False).update(
        is_staff=False
    )
    operators = User.objects.filter(Q(is_superuser=True) | Q(is_staff=True))
    Membership.objects.filter(user__in=operators).delete()
    Account.objects.filter(fallback_agent__in=operators).update(fallback_agent=None)
    operators.filter(account__isnull=False).update(account=None)


class Migration(migrations.Migration):
    # The constraint comes in the next migration: PostgreSQL refuses to alter a table in the
    # transaction that just updated its foreign keys (pending trigger events).

    dependencies = [
        ("accounts", "0003_account_fallback_agent_account_premium_workflows"),
    ]

    operations = [
        migrations.RunPython(detach_operators, migrations.RunPython.noop),
    ]
