from __future__ import annotations

import json
import shlex
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError

from leadpost.accounts.models import Account, ApiToken, User
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.commands import OperatorCommand
from leadpost.lib.tokens import hash_token

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
            account = Account.objects.create(name=DEMO_NAME, time_zone="America/Chicago")
            for first, last in (("Alice", "Agent"), ("Bob", "Broker")):
                User.objects.create(
                    account=account,
                    username=f"{first.lower()}@demo.example",
                    email=f"{first.lower()}@demo.example",
                    first_name=first,
                    last_name=last,
                )
            saved = {"account": account.pk}
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
            {"account": account.pk, "url": url, "apiToken": api_token, "curl": curl, "read": read},
            [
                "",
                f"Demo account {account.pk}: {account.name} (agents: Alice Agent, Bob Broker)",
                f"Lead Post URL:  {url}",
                f"Dry run URL:    {url}/test",
                f"API token:      {api_token}",
                "",
                "Post a lead:",
                f"  {curl}",
                "Read it back:",
                f"  {read}",
                "",
            ],
        )
