from __future__ import annotations

import datetime as dt
import json
import random
import secrets
import shlex
import time
from collections import Counter
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from leadpost.accounts.actions import ADMINISTRATORS, AGENTS, create_account, create_user
from leadpost.accounts.models import Account, ApiToken, User
from leadpost.intake.actions import Client, log_refused_post, receive_lead
from leadpost.intake.form import decode_form
from leadpost.intake.models import LeadPostUrl, PostLog, PostResult
from leadpost.lib.commands import OperatorCommand
from leadpost.lib.problems import Problem
from leadpost.lib.tokens import hash_token
from leadpost.routing.models import AgentProfile, PoolMember, RoutingRule
from leadpost.vendors.counts import day_start
from leadpost.vendors.models import RolledUp
from leadpost.vendors.rollup import roll_up

DEMO_NAME = "Demo Agency"
# --sample-posts: at most this many in one run (a few hundred take a few seconds).
MAX_SAMPLE_POSTS = 10_000
SAMPLE_DAYS = 30
# The demo's vendors: label, price per lead, share of the posts.
SAMPLE_VENDORS: tuple[tuple[str, Decimal | None, int], ...] = (
    ("Demo Vendor", None, 5),
    ("Datalot", Decimal("14.00"), 3),
    ("NextGen Leads", None, 2),
)
# What becomes of a sample post, and how often: mostly created.
SAMPLE_KINDS: tuple[tuple[str, int], ...] = (
    ("created", 76),
    ("duplicate", 10),
    ("rejected", 6),
    ("dry_run", 5),
    ("refused", 3),
)
# What the endpoint answers a vendor that posts JSON (intake/views.py).
_JSON_REFUSED = 'Content-Type must be application/x-www-form-urlencoded, not "application/json".'
_FIRST = ("John", "Mary", "Luis", "Aisha", "Wei", "Olga", "Sam", "Priya", "Tom", "Ana", "Kofi")
_LAST = ("Doe", "Smith", "Garcia", "Khan", "Chen", "Novak", "Lee", "Patel", "Brown", "Silva")
_PLACES = (("IA", "Iowa City", "52240"), ("IL", "Peoria", "61602"), ("NE", "Omaha", "68102"))


class Command(OperatorCommand):
    help = (
        "Development only: create (or reuse) a demo account with two agents, a Lead Post URL and an "
        "API token, and print them with a ready curl line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sample-posts",
            metavar="N",
            default="0",
            help="Also post N sample leads to the demo's vendors' URLs, spread over the last "
            f"{SAMPLE_DAYS} days (a mix of created, duplicate, rejected, warned, dry runs and "
            "refused posts), and roll up the closed days for the vendor figures.",
        )
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEV:
            raise CommandError("The demo is for development instances only (LEADPOST_DEV=1).")
        wanted = str(options["sample_posts"])
        if not wanted.isascii() or not wanted.isdigit() or int(wanted) > MAX_SAMPLE_POSTS:
            raise CommandError(f"--sample-posts must be a number from 0 to {MAX_SAMPLE_POSTS}.")
        sample_posts = int(wanted)
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
        samples: dict[str, Any] | None = None
        if sample_posts:
            batch = int(saved.get("sample_batches", 0)) + 1
            samples = make_sample_posts(account, sample_posts, batch)
            saved["sample_batches"] = batch
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
                "samplePosts": samples,
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
                *([sample_line(samples), ""] if samples else []),
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


def _sample_lead(rng: random.Random, number: str) -> dict[str, str]:
    state, city, zip_code = rng.choice(_PLACES)
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(50 * 365))
    return {
        "firstName": first,
        "lastName": last,
        "birthDate": f"{born:%m/%d/%Y}",
        "email": f"{first}.{last}{number.replace('-', '')}@example.com".lower(),
        "cellPhone": f"319-555-{rng.randrange(10000):04d}",
        "street1": f"{rng.randrange(1, 999)} Main St",
        "city": city,
        "stateAbbrev": state,
        "zip": zip_code,
        "externalID": f"demo-{number}",
    }


def _sample_warning(rng: random.Random, lead: dict[str, str]) -> None:
    """Make `lead` one a vendor's drifting integration sends: kept, with a warning."""
    what = rng.randrange(4)
    if what == 0:
        month, day, year = lead["birthDate"].split("/")
        lead["birthDate"] = f"{year}-{month}-{day}"  # not MM/DD/YYYY
    elif what == 1:
        lead["cellPhone"] = lead["cellPhone"][-8:]  # no area code
    elif what == 2:
        lead["utm_source"] = "facebook"  # a parameter Leadpost does not know
    else:
        lead["FirstName"] = lead["firstName"]  # misspelt: unknown, and the right one suggested


def make_sample_posts(account: Account, count: int, batch: int) -> dict[str, Any]:
    """`count` sample posts to the demo's vendors, through the lead endpoint's own action
    (`receive_lead`), received over the last SAMPLE_DAYS days; then the closed days rolled up.

    The same `batch` on a fresh database makes the same posts (seeded); each batch has its own
    externalIDs, so a second run makes new leads rather than only duplicates."""
    rng = random.Random(f"leadpost-demo-{batch}")  # noqa: S311 - sample data, no secret
    urls: list[LeadPostUrl] = []
    for label, price, _share in SAMPLE_VENDORS:
        url = LeadPostUrl.objects.filter(account=account, label=label, enabled=True).first()
        if url is None:
            url, _token = LeadPostUrl.issue(account, label, default_lead_source=label)
        if url.price_per_lead != price and price is not None:
            url.price_per_lead = price
            url.save(update_fields=["price_per_lead"])
        urls.append(url)
    agents = list(
        User.objects.filter(account=account, username__endswith="@demo.example").order_by("pk")
    )
    now = timezone.now()
    # The days of the vendor pages' "last 30 days", in the account's time zone.
    start = day_start(account.local_date(now) - dt.timedelta(days=SAMPLE_DAYS - 1), account.tz)
    # Never before what the roll-up has counted: the figures read the post log only from there
    # on, so a post dated earlier would be in the post log and missing from the figures.
    rolled = RolledUp.objects.filter(account=account).values_list("until", flat=True).first()
    if rolled is not None:
        start = min(max(start, rolled), now)
    moments = sorted(start + (now - start) * rng.random() for _ in range(count))
    kinds, weights = zip(*SAMPLE_KINDS, strict=True)
    made: Counter[str] = Counter()
    created: dict[int, list[dict[str, str]]] = {}
    timed: list[PostLog] = []
    warned = 0
    for n, moment in enumerate(moments):
        url = rng.choices(urls, weights=[share for *_, share in SAMPLE_VENDORS])[0]
        kind = rng.choices(kinds, weights)[0]
        if kind == "duplicate" and not created.get(url.pk):
            kind = "created"  # nothing of this vendor's to send again yet
        lead = _sample_lead(rng, f"{batch}-{n}")
        if kind == "duplicate":
            lead = dict(rng.choice(created[url.pk]))  # a retry: the same lead again
        elif kind == "rejected":
            del lead["lastName"]
        elif kind in ("created", "dry_run") and rng.random() < 0.3:
            _sample_warning(rng, lead)
            warned += 1
        if kind == "created" and agents and rng.random() < 0.2:
            agent = rng.choice(agents)
            lead["servicingAgentFirstName"] = agent.first_name
            lead["servicingAgentLastName"] = agent.last_name
        client = Client(ip="203.0.113.10", user_agent=f"{url.label} lead feed (Leadpost demo)")
        began = time.perf_counter()
        if kind == "refused":
            outcome = log_refused_post(
                url,
                received_at=moment,
                client=client,
                status=415,
                result=PostResult.UNSUPPORTED_MEDIA_TYPE,
                error=Problem(None, "unsupported_media_type", _JSON_REFUSED),
            )
        else:
            form = decode_form(urlencode(lead).encode(), None)
            outcome = receive_lead(
                url, form, received_at=moment, client=client, dry_run=kind == "dry_run"
            )
        # The post log's answer time is taken from `received_at`, days ago here: what the post
        # took is what it shows instead.
        outcome.log.answer_us = int((time.perf_counter() - began) * 1_000_000)
        timed.append(outcome.log)
        made[outcome.result] += 1
        if outcome.result == PostResult.CREATED:
            created.setdefault(url.pk, []).append(lead)
    PostLog.objects.bulk_update(timed, ["answer_us"], batch_size=500)
    rolled_up = roll_up(now)
    return {
        "posts": count,
        "urls": [url.pk for url in urls],
        "vendors": [url.label for url in urls],
        "from": moments[0].isoformat() if moments else None,
        "to": moments[-1].isoformat() if moments else None,
        "results": dict(sorted(made.items())),
        "warned": warned,
        "rolledUp": rolled_up,
    }


def sample_line(samples: dict[str, Any]) -> str:
    results = samples["results"]
    said = [
        f"{results.get(PostResult.CREATED, 0)} created",
        f"{results.get(PostResult.DUPLICATE, 0)} duplicate",
        f"{results.get(PostResult.REJECTED, 0)} rejected",
        f"{results.get(PostResult.TEST, 0)} dry runs",
        f"{results.get(PostResult.UNSUPPORTED_MEDIA_TYPE, 0)} refused (415)",
    ]
    span = ""
    if samples["from"]:
        first, last = (dt.datetime.fromisoformat(samples[k]) for k in ("from", "to"))
        span = f" received {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    return (
        f"Sample posts: {samples['posts']} to {', '.join(samples['vendors'])}{span}: "
        f"{', '.join(said)}; {samples['warned']} with warnings. Closed days rolled up."
    )
