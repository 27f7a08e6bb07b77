from __future__ import annotations

import json
import secrets
import shlex
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction

from leadpost.accounts.actions import ADMINISTRATORS, AGENTS, create_account, create_user
from leadpost.accounts.models import Account, ApiToken, User
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.commands import OperatorCommand
from leadpost.lib.tokens import hash_token
from leadpost.routing.models import AgentProfile, PoolMember, RoutingRule

DEMO_NAME = "Demo Agency"


class Command(OperatorCommand):
    help = (
        "Development only: create (or reuse) a demo account with two agents, a Lead Post URL and an "
        "API token, and print them with a ready curl line."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEV:
            raise CommandError("The demo is for development instances only (LEADPOST_DEV=1).")
        # Tokens are stored hashed, so the demo keeps its clear copies in the data folder to print
        # them again on the next start; a real account never has this file.
        path = settings.DATA_DIR / "demo.json"
        saved = json.loads(path.read_text()) if path.exists() else {}
        account = Account.objects.filter(pk=saved.get("account") or 0, name=DEMO_NAME).first()
        if account is None:
            account = self._create_demo_account()
            saved = {"account": account.pk}
        password = saved.get("admin_password") or secrets.token_urlsafe(12)
        admin_user = User.objects.get(account=account, username="admin")
        if not admin_user.check_password(password):
            admin_user.set_password(password)
            admin_user.save(update_fields=["password"])
        saved["admin_password"] = password
        token = saved.get("url_token", "")
        if not LeadPostUrl.objects.filter(token_hash=hash_token(token), account=account).exists():
            _, token = LeadPostUrl.issue(account, "Demo Vendor", default_lead_source="Demo Vendor")
        api_token = saved.get("api_token", "")
        if not ApiToken.objects.filter(token_hash=hash_token(api_token), account=account).exists():
            _, api_token = ApiToken.issue(account, "demo")
        saved.update({"account": account.pk, "url_token": token, "api_token": api_token})
        path.write_text(json.dumps(saved))
        path.chmod(0o600)

        url = LeadPostUrl.full_url(token)
        staff = f"{settings.BASE_URL}/staff/"
        body = (
            "firstName=John&lastName=Doe&middleInitial=Q&birthDate=04/15/1980&ssn=123-45-6789"
            "&gender=m&smokerStatus=N&email=John.Doe@Example.com&status=New&leadSource=Demo Vendor"
            "&homePhone=319.555.0100&cellPhone=+1 319 555 0101&street1=1 Main St&city=Iowa City"
            "&zip=52240&county=Johnson&externalID=demo-1&servicingAgentFirstName=Alice"
            "&servicingAgentLastName=Agent"
        )
        curl = (
            "curl -sS "
            + " ".join(f"--data-urlencode {shlex.quote(pair)}" for pair in body.split("&"))
            + f" {shlex.quote(url)}"
        )
        read = (
            f"curl -sS -H {shlex.quote('Authorization: Bearer ' + api_token)} "
            f"{settings.BASE_URL}/api/v1/records"
        )
        self.report(
            options,
            {
                "account": account.pk,
                "url": url,
                "apiToken": api_token,
                "curl": curl,
                "read": read,
                "staff": {"url": staff, "username": "admin", "password": password},
            },
            [
                "",
                f"Demo account {account.pk}: {account.name} (agents: Alice Agent, Bob Broker; "
                'a Lead Routing Rule sends "Auto" Iowa leads to them 2:1 once Lead Post creates '
                "Sales Records)",
                f"Lead Post URL:  {url}",
                f"Dry run URL:    {url}/test",
                f"API token:      {api_token}",
                f"Staff pages:    {staff}  (user: admin, password: {password})",
                "",
                "Post a lead:",
                f"  {curl}",
                "Read it back:",
                f"  {read}",
                "",
            ],
        )

    @staticmethod
    @transaction.atomic
    def _create_demo_account() -> Account:
        account = create_account(DEMO_NAME, "America/Chicago", premium_workflows=True)
        create_user(
            account,
            username="admin",
            first_name="Ada",
            last_name="Admin",
            email="admin@demo.example",
            groups=[ADMINISTRATORS],
        )
        rule = RoutingRule.objects.create(account=account, name="Iowa leads", states=["IA"])
        for order, (first, last, weight) in enumerate(
            (("Alice", "Agent", 2), ("Bob", "Broker", 1))
        ):
            agent = create_user(
                account,
                username=f"{first.lower()}@demo.example",
                first_name=first,
                last_name=last,
                email=f"{first.lower()}@demo.example",
                groups=[AGENTS],
            )
            AgentProfile.objects.create(user=agent, licensed_states=["IA", "IL", "NE"])
            PoolMember.objects.create(rule=rule, agent=agent, weight=weight, order=order)
        return account
