#!/usr/bin/env python3
"""Vendor performance figures (SPEC §13) over a million posts: the roll-up, the report, the routes.

    .venv/bin/python bench/vendor_figures.py                     # SQLite, 1,000,000 posts (~minutes)
    .venv/bin/python bench/vendor_figures.py --posts 50000       # a quick look
    DATABASE_URL=postgres://leadpost:leadpost@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/vendor_figures.py                 # PostgreSQL: database leadpost_bench_vendors
    .venv/bin/python bench/vendor_figures.py --reuse             # the database the last run filled

In one process, no HTTP server. Fills a database (SQLite in --data-dir, or a database
--bench-database on DATABASE_URL's server) with --posts posts to 20 Lead Post URLs of one account
over 90 days of its time zone, ~1.1% of them today, plus a second account's posts (5% more, two
URLs) so that every figure's account filter has rows to leave out: results mostly created, ~8%
duplicate, ~5% rejected, ~1% refused (415, 413, 429), ~1% dry runs; ~30% of posts with 1-3
warnings (birthDate, phones, unknown parameters) and the parameters as the post log keeps them;
answer times spread as real ones are; a record for every created post (a duplicate points at an
earlier one of its vendor), a servicing agent on ~45% of them, attachments stored or failed on
~3%. The fill is bulk inserts, timed but not the point. Then it times the roll-up of the whole
backlog (every closed day of both accounts: what a first roll-up after an upgrade costs), and,
with warm caches, the median of --runs runs of each figure: `figures.report()` for today (the
live part only: today's posts are after the roll-up, read from the post log), 7, 30 and 90 days
and one URL's 90 days, the JSON and CSV made of a report, and the HTTP routes in ROUTES below
through Django's test Client, as an agency admin (logged in) or with an API token. Each figure's
CPU time (this process, and PostgreSQL's backend) is printed beside its wall time: on a shared
machine the second grows with the others' load. A route that answers 404 is skipped with a line
saying it is missing (a branch not merged yet). Figures, not assertions: see bench/README.md
("Vendor performance").
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import datetime as dt
import io
import json
import math
import os
import pstats
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The routes timed, as (who, path): who is "staff" (an agency admin, logged in) or "api" (a read
# API token); {url_id} is the biggest vendor's Lead Post URL id. Edit when a route's name changes.
ROUTES: list[tuple[str, str]] = [
    ("staff", "/staff/vendors/?period=90"),
    ("staff", "/staff/vendors/{url_id}/?period=90"),
    ("staff", "/staff/vendors/vendors.csv?period=90"),
    ("staff", "/staff/vendors/{url_id}/days.csv?period=90"),
    ("staff", "/staff/vendors/{url_id}/warnings.csv?period=90"),
    ("api", "/api/v1/vendors?period=90"),
    ("api", "/api/v1/vendors/{url_id}?period=90"),
    ("api", "/api/v1/vendors?period=90&format=csv"),
    ("api", "/api/v1/vendors/{url_id}?period=90&format=csv"),
]

TARGET_MS = 500
DAYS = 90
URLS = 20
TIME_ZONE = "America/Chicago"
ACCOUNT_NAME = "Bench Agency (vendor figures)"
OTHER_NAME = "Other Agency (vendor figures)"
TODAY_SHARE = 0.011  # ~11,000 of 1,000,000 posts today, as on any other day
OTHER_SHARE = 0.05  # the second account's posts, beside the first's


# ---------------------------------------------------------------------------- set-up


def configure(data_dir: Path, server_url: str | None, name: str, *, reuse: bool) -> str:
    """Settings for this process, before Django starts; which database it is (in words)."""
    from cryptography.fernet import Fernet

    for key in [k for k in os.environ if k.startswith("LEADPOST_")]:
        del os.environ[key]
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "LEADPOST_DATA_DIR": str(data_dir),
            "LEADPOST_SECRET_KEY": secrets.token_urlsafe(50),
            "LEADPOST_SSN_KEYS": Fernet.generate_key().decode(),  # no SSN is stored: any key
            "LEADPOST_SSN_INDEX_KEY": secrets.token_urlsafe(32),
            "LEADPOST_ALLOWED_HOSTS": "testserver",
            "LEADPOST_SECURE_COOKIES": "0",  # the test Client speaks plain HTTP
            "DJANGO_SETTINGS_MODULE": "leadpost.settings",
        }
    )
    os.environ.pop("DATABASE_URL", None)
    if not server_url:
        if not reuse:
            for suffix in ("", "-wal", "-shm"):
                (data_dir / f"leadpost.sqlite3{suffix}").unlink(missing_ok=True)
        return f"SQLite {data_dir / 'leadpost.sqlite3'}"
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not (reuse and exists):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urlunsplit(urlsplit(server_url)._replace(path="/" + name))
    return f"PostgreSQL database {name}"


def postgres_settings() -> str:
    from django.db import connection

    names = ["server_version", "fsync", "synchronous_commit", "shared_buffers", "work_mem"]
    with connection.cursor() as cursor:
        shown = []
        for n in names:
            cursor.execute(f"SHOW {n}")
            shown.append(f"{n}={cursor.fetchone()[0]}")
    return ", ".join(shown)


# ---------------------------------------------------------------------------- the fill

WARNING_KINDS = ("birthDate", "homePhone", "cellPhone", "unknown")
UNKNOWN_PARAMETERS = ("jornaya_leadid", "trustedform_cert_url", "sub_id", "lead_id", "campaign")
USER_AGENTS = (
    "Go-http-client/1.1",
    "python-requests/2.32.3",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
    "curl/8.5.0",
    "axios/1.7.2",
)


@dataclass
class Vendor:
    """One Lead Post URL of the fill and how its vendor's integration behaves."""

    url_id: int
    share: float
    duplicate: float
    rejected: float
    warned: float  # share of accepted posts with warnings
    kinds: tuple[float, ...]  # weight of each of WARNING_KINDS
    agents: list[int]  # agents it names, most often the first
    user_agent: str
    client_ip: str
    slow: float  # its answer times' scale (a vendor sending big bodies waits longer)
    records: list[int] = field(default_factory=list)  # record ids, for its duplicates


def base_params(n: int, external_id: str) -> dict[str, Any]:
    """A lead as the post log keeps it (bench/leads.py's typical lead, SSN masked)."""
    return {
        "firstName": "Jane",
        "lastName": f"Doe{n % 997}",
        "middleInitial": "Q",
        "birthDate": f"{1 + n % 12:02d}/{1 + n % 28:02d}/19{50 + n % 50}",
        "leadDate": "12/01/2026",
        "ssn": "***-**-1234",
        "gender": "f",
        "email": f"jane.doe{n % 9973}@mail.example-agency.com",
        "status": "New",
        "leadSource": "Web",
        "externalID": external_id,
        "homePhone": "319-337-4000",
        "cellPhone": "(319) 621 5555",
        "street1": f"{n % 9000 + 100} Main St",
        "city": "Iowa City",
        "stateAbbrev": "IA",
        "zip": "52240-1234",
        "county": "Johnson",
        "type": "Prospect",
        "attachment_note_1_subject_text": "Call back",
        "attachment_note_1_body_text": "Prefers afternoon calls; asked about a 20-year term.",
    }


def warn(kind: str, params: dict[str, Any], rng: random.Random) -> dict[str, str]:
    """One warning as the post log keeps it, its value put in the post's parameters."""
    if kind == "birthDate":
        value = rng.choice(("1980-04-12", "4/31/1975", "19670812", "12-25-1990"))
        params["birthDate"] = value
        return {
            "field": "birthDate",
            "code": "invalid_date",
            "message": f'birthDate "{value}" is not a real date in MM/DD/YYYY; not stored',
        }
    if kind in ("homePhone", "cellPhone"):
        value = rng.choice(("555-1234", "+44 20 7946 0958", "319-337-4000 x12", "000-000-0000"))
        params[kind] = value
        return {
            "field": kind,
            "code": "invalid_phone",
            "message": f'{kind} "{value}" is not a valid US phone number (no extensions); '
            "stored as (319) 555-0000 when valid; not stored",
        }
    name = rng.choice(UNKNOWN_PARAMETERS)
    params[name] = f"{rng.getrandbits(48):012x}"
    return {
        "field": name,
        "code": "unknown_parameter",
        "message": f'unknown parameter "{name}" ignored',
    }


def answer_us(result: str, attachments: int, vendor: Vendor, rng: random.Random) -> int:
    """A post's answer time: log-normal around a few milliseconds, slower with attachments,
    with a tail (a busy moment, a slow disk) of up to seconds."""
    median_ms = {"refused": 0.4, "rejected": 2.0, "duplicate": 3.5, "test": 3.0}.get(result, 5.0)
    ms = rng.lognormvariate(math.log(median_ms * vendor.slow), 0.55)
    if attachments:
        ms += rng.lognormvariate(math.log(40 * attachments), 0.8)
    if rng.random() < 0.01:
        ms += rng.lognormvariate(math.log(150), 1.2)
    return max(50, int(ms * 1000))


def make_vendors(urls: list[int], agents: list[int], rng: random.Random) -> list[Vendor]:
    weights = [1 / (i + 1) ** 0.8 for i in range(len(urls))]
    total = sum(weights)
    vendors = []
    for i, url_id in enumerate(urls):
        kinds = [rng.random() + 0.1 for _ in WARNING_KINDS]
        kinds[rng.randrange(len(kinds))] += 2  # each vendor has its own habit
        vendors.append(
            Vendor(
                url_id=url_id,
                share=weights[i] / total,
                duplicate=rng.uniform(0.03, 0.13),
                rejected=rng.uniform(0.02, 0.08),
                warned=rng.uniform(0.1, 0.5),
                kinds=tuple(kinds),
                agents=rng.sample(agents, k=min(len(agents), rng.randint(1, 4))),
                user_agent=rng.choice(USER_AGENTS),
                client_ip=f"203.0.113.{10 + i}",
                slow=rng.uniform(0.7, 1.6),
            )
        )
    return vendors


def day_counts(posts: int, today_posts: int, days: list[dt.date], rng: random.Random) -> list[int]:
    """Posts per day: weekends quieter, a little noise, today's count as asked."""
    past = days[:-1]
    weights = [(0.55 if d.weekday() >= 5 else 1.0) * rng.uniform(0.85, 1.15) for d in past]
    scale = (posts - today_posts) / sum(weights)
    counts = [int(w * scale) for w in weights]
    counts[-1] += posts - today_posts - sum(counts)
    return [*counts, today_posts]


def moments(
    day: dt.date, count: int, tz: Any, now: dt.datetime, rng: random.Random
) -> list[dt.datetime]:
    """`count` arrival times on `day` of `tz`, mostly in business hours, before `now`."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    length = min(86400.0, (now - start).total_seconds() - 1)
    found = []
    for _ in range(count):
        if length >= 86399 and rng.random() < 0.8:
            second = rng.triangular(7 * 3600, 20 * 3600, 12 * 3600)
        else:
            second = rng.uniform(0, max(1.0, length))
        found.append(start + dt.timedelta(seconds=min(second, length)))
    found.sort()
    return found


class Table:
    """Rows of one model, inserted in bulk with ids given here (Django's bulk_create builds a
    model instance and compiles SQL per row: most of the fill's time). Every concrete column but
    those with a database default gets a value: the one given, or the field's default."""

    def __init__(self, model: Any) -> None:
        from django.db import connection
        from django.db.models import NOT_PROVIDED, Max

        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if f.db_default is NOT_PROVIDED]
        self.names = [f.attname for f in self.fields]
        self.defaults = [None if f.primary_key else f.get_default() for f in self.fields]
        self.prepared = [
            (i, _adapter(f.get_internal_type(), connection.vendor))
            for i, f in enumerate(self.fields)
            if f.get_internal_type() in ("JSONField", "DateTimeField", "DateField")
        ]
        self.next_id = (model.objects.aggregate(n=Max("pk"))["n"] or 0) + 1
        self.rows: list[list[Any]] = []
        self.connection = connection
        self.count = 0

    def add(self, **values: Any) -> int:
        pk = self.next_id
        self.next_id += 1
        values["id"] = pk
        row = [values.get(n, d) for n, d in zip(self.names, self.defaults, strict=True)]
        for i, adapt in self.prepared:
            if row[i] is not None:
                row[i] = adapt(row[i])
        self.rows.append(row)
        return pk

    def flush(self) -> None:
        if not self.rows:
            return
        connection = self.connection
        table = connection.ops.quote_name(self.model._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in self.rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(self.fields))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", self.rows)
        self.count += len(self.rows)
        self.rows = []


def _adapter(kind: str, vendor: str) -> Callable[[Any], Any]:
    """What the database takes for a value of this kind of field (as Django's fields store it:
    SQLite has datetimes as UTC text, JSON as text)."""
    if kind == "JSONField":
        if vendor == "postgresql":
            from psycopg.types.json import Jsonb

            return Jsonb
        return json.dumps
    if vendor == "postgresql":
        return lambda value: value
    if kind == "DateTimeField":
        return lambda value: str(value.astimezone(dt.UTC).replace(tzinfo=None))
    return str


def reset_sequences(models: list[Any]) -> None:
    """PostgreSQL's id sequences after rows inserted with their ids (SQLite follows by itself)."""
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)


def fill_account(
    account: Any,
    vendors: list[Vendor],
    per_day: list[int],
    days: list[dt.date],
    now: dt.datetime,
    rng: random.Random,
    tag: str,
) -> dict[str, int]:
    """Posts, records, notes and attachments of one account, day by day in bulk."""
    from django.db import transaction

    from leadpost.intake.models import PostLog
    from leadpost.lib.choices import RecordType
    from leadpost.records.models import Attachment, AttachmentState, Note, Record

    records, posts = Table(Record), Table(PostLog)
    notes, files = Table(Note), Table(Attachment)
    cumulative = []
    running = 0.0
    for vendor in vendors:
        running += vendor.share
        cumulative.append(running)
    serial = 0
    for day, count in zip(days, per_day, strict=True):
        for received_at in moments(day, count, account.tz, now, rng):
            serial += 1
            vendor = vendors[min(len(vendors) - 1, _pick(cumulative, rng.random() * running))]
            external_id = f"{tag}{vendor.url_id}-{serial}"
            r = rng.random()
            if r < 0.01:
                result = "refused"
            elif r < 0.02:
                result = "test"
            elif r < 0.02 + vendor.rejected:
                result = "rejected"
            elif r < 0.02 + vendor.rejected + vendor.duplicate and vendor.records:
                result = "duplicate"
            else:
                result = "created"
            record_id = None
            attachments = 0
            warnings: list[dict[str, str]] = []
            errors: list[dict[str, str | None]] = []
            params: dict[str, Any] = {}
            status, stored_result = 200, result
            if result == "refused":
                status, stored_result = rng.choice(
                    ((415, "unsupported_media_type"), (413, "too_large"), (429, "rate_limited"))
                )
                if status == 415:
                    errors = [
                        {
                            "field": None,
                            "code": "unsupported_media_type",
                            "message": "Content-Type must be application/x-www-form-urlencoded, "
                            'not "application/json".',
                        }
                    ]
            elif result == "rejected":
                status = 400
                params = base_params(serial, external_id)
                del params["lastName"]
                errors = [
                    {
                        "field": "lastName",
                        "code": "required",
                        "message": "lastName is required and was missing or empty",
                    }
                ]
            else:
                params = base_params(serial, external_id)
                if rng.random() < vendor.warned:
                    kinds = rng.choices(WARNING_KINDS, weights=vendor.kinds, k=rng.randint(1, 3))
                    warnings = [warn(kind, params, rng) for kind in dict.fromkeys(kinds)]
                if result == "created":
                    agent = None
                    if rng.random() < 0.45:
                        agent = (
                            vendor.agents[0] if rng.random() < 0.6 else rng.choice(vendor.agents)
                        )
                    record_id = records.add(
                        account_id=account.pk,
                        record_type=RecordType.INDIVIDUAL,
                        created_at=received_at,
                        lead_post_url_id=vendor.url_id,
                        external_id=external_id,
                        first_name=params["firstName"],
                        last_name=params["lastName"],
                        email=params["email"],
                        home_phone="(319) 337-4000",
                        street1=params["street1"],
                        city="Iowa City",
                        state="IA",
                        zip_code="52240-1234",
                        servicing_agent_id=agent,
                    )
                    vendor.records.append(record_id)
                    if len(vendor.records) > 5000:
                        del vendor.records[:1000]
                    if rng.random() < 0.03:
                        attachments = rng.randint(1, 2)
                        note = notes.add(
                            record_id=record_id,
                            number=1,
                            subject="Call back",
                            body="Recording attached.",
                            created_at=received_at,
                        )
                        for number in range(1, attachments + 1):
                            stored = rng.random() < 0.9
                            files.add(
                                note_id=note,
                                number=number,
                                key=f"{rng.getrandbits(128):032x}",
                                file_name=f"call-{note}-{number}.mp3",
                                source_url=f"https://calls.example-vendor.com/r/{note}/{number}",
                                state=AttachmentState.STORED if stored else AttachmentState.FAILED,
                                size=rng.randint(50_000, 4_000_000) if stored else None,
                                attempts=1 if stored else 8,
                                error="" if stored else "HTTP 404 from calls.example-vendor.com",
                                created_at=received_at,
                                stored_at=received_at if stored else None,
                            )
                else:
                    record_id = rng.choice(vendor.records[-2000:])
            posts.add(
                account_id=account.pk,
                lead_post_url_id=vendor.url_id,
                received_at=received_at,
                dry_run=result == "test",
                record_mode=RecordType.INDIVIDUAL,
                client_ip=vendor.client_ip,
                user_agent=vendor.user_agent,
                status_code=status,
                result=stored_result,
                answer_us=answer_us(result, attachments, vendor, rng),
                record_id=record_id,
                warnings=warnings,
                errors=errors,
                params=params,
            )
        with transaction.atomic():  # one day at a time: parents before children
            for table in (records, posts, notes, files):
                table.flush()
    reset_sequences([Record, PostLog, Note, Attachment])
    return {"posts": posts.count, "records": records.count, "attachments": files.count}


def _pick(cumulative: list[float], x: float) -> int:
    return bisect.bisect_left(cumulative, x)


@dataclass
class Cast:
    """What the timing needs of the filled database."""

    account: Any
    other: Any
    admin: Any
    url_ids: list[int]
    biggest_url: int
    posts: int
    today_posts: int


def fill(posts: int, today_posts: int, seed: int) -> Cast:
    from django.utils import timezone

    from leadpost.accounts.models import Account, SecurityGroup, User
    from leadpost.intake.models import LeadPostUrl

    rng = random.Random(seed)
    now = timezone.now()
    account = Account.objects.create(name=ACCOUNT_NAME, time_zone=TIME_ZONE)
    other = Account.objects.create(name=OTHER_NAME, time_zone="America/New_York")
    first_names = ["Ann", "Bob", "Cara", "Dev", "Eli", "Fay", "Gus", "Hal"]
    agents = [
        User.objects.create(
            account=account, username=f"agent{i}", first_name=name, last_name="Agent"
        ).pk
        for i, name in enumerate(first_names)
    ]
    other_agents = [
        User.objects.create(account=other, username="otto", first_name="Otto", last_name="Other").pk
    ]
    labels = [
        "Datalot", "EverQuote", "SmartFinancial", "MediaAlpha", "QuoteWizard", "Lendingtree",
        "NetQuote", "InsuranceHotline", "Velocify", "LeadCo", "Excel Impact", "Digital Media",
        "Precise Leads", "ProspectZone", "SelectQuote", "Assurance", "HealthIQ", "Benepath",
        "PolicyScout", "AllWebLeads",
    ]  # fmt: skip
    url_ids = []
    for i, label in enumerate(labels[:URLS]):
        url, _token = LeadPostUrl.issue(account, label)
        if i % 5 != 4:  # most vendors are paid per lead
            url.price_per_lead = Decimal(rng.choice(("8.00", "12.50", "18.00", "25.00", "35.00")))
            url.save(update_fields=["price_per_lead"])
        url_ids.append(url.pk)
    other_urls = [LeadPostUrl.issue(other, label)[0].pk for label in ("Datalot", "Other Vendor")]

    admin = User.objects.create(
        account=account, username="admin", first_name="Ada", last_name="Admin"
    )
    group = SecurityGroup.objects.create(
        account=account,
        name="Admins",
        sales_enablement_visible=True,
        manage_data=True,
        manage_urls=True,
        view_post_log=True,
        manage_users=True,
    )
    admin.security_groups.add(group)

    today = account.local_date(now)
    days = [today - dt.timedelta(days=DAYS - 1 - n) for n in range(DAYS)]
    vendors = make_vendors(url_ids, agents, rng)
    made = fill_account(
        account, vendors, day_counts(posts, today_posts, days, rng), days, now, rng, "a"
    )
    other_posts = round(posts * OTHER_SHARE)
    other_today = account.local_date(now)  # its days are New York's: near enough for a neighbour
    other_days = [other_today - dt.timedelta(days=DAYS - 1 - n) for n in range(DAYS)]
    made_other = fill_account(
        other,
        make_vendors(other_urls, other_agents, rng),
        day_counts(other_posts, round(other_posts * TODAY_SHARE), other_days, rng),
        other_days,
        now,
        rng,
        "o",
    )
    print(
        f"  {ACCOUNT_NAME}: {made['posts']:,} posts, {made['records']:,} records, "
        f"{made['attachments']:,} attachments; the other account: {made_other['posts']:,} posts, "
        f"{made_other['records']:,} records",
        flush=True,
    )
    return cast(account, other, admin, url_ids)


def cast(account: Any, other: Any, admin: Any, url_ids: list[int]) -> Cast:
    from django.db.models import Count

    from leadpost.intake.models import PostLog
    from leadpost.vendors.counts import day_start

    per_url = dict(
        PostLog.objects.filter(account=account)
        .values_list("lead_post_url_id")
        .annotate(n=Count("id"))
        .values_list("lead_post_url_id", "n")
    )
    today = account.local_date(dt.datetime.now(dt.UTC))
    today_posts = PostLog.objects.filter(
        account=account, received_at__gte=day_start(today, account.tz)
    ).count()
    return Cast(
        account,
        other,
        admin,
        url_ids,
        max(per_url, key=lambda pk: per_url[pk]),
        sum(per_url.values()),
        today_posts,
    )


def reused(posts: int, today_posts: int) -> Cast | None:
    """The cast of a database an earlier run filled with as many posts, today; None otherwise."""
    from django.db import connection
    from django.db.utils import DatabaseError

    from leadpost.accounts.models import Account, User
    from leadpost.intake.models import LeadPostUrl, PostLog

    try:
        account = Account.objects.filter(name=ACCOUNT_NAME).first()
        other = Account.objects.filter(name=OTHER_NAME).first()
    except DatabaseError:
        connection.close()
        return None
    if account is None or other is None:
        return None
    last = PostLog.objects.filter(account=account).order_by("-received_at").first()
    if last is None or account.local_date(last.received_at) != account.local_date(
        dt.datetime.now(dt.UTC)
    ):
        print("  (the database's newest posts are not today's: filling it again)")
        return None
    url_ids = list(
        LeadPostUrl.objects.filter(account=account).order_by("pk").values_list("pk", flat=True)
    )
    found = cast(account, other, User.objects.get(account=account, username="admin"), url_ids)
    if (found.posts, found.today_posts) != (posts, today_posts):
        print(
            f"  (the database holds {found.posts:,} posts, {found.today_posts:,} of them today, "
            f"not {posts:,} and {today_posts:,}: filling it again)"
        )
        return None
    return found


# ---------------------------------------------------------------------------- timing


@dataclass
class Timed:
    """One figure's runs: wall-clock time, and the CPU time this process and (PostgreSQL) its
    database backend spent on them. On a machine other jobs share, the wall time grows with
    their load and the CPU time much less: both are printed."""

    name: str
    runs_ms: list[float]
    cpu_ms: list[float]
    db_cpu_ms: list[float] | None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.runs_ms)

    @property
    def cpu(self) -> str:
        text = f"{statistics.median(self.cpu_ms):.0f}"
        if self.db_cpu_ms:
            text += f" + db {statistics.median(self.db_cpu_ms):.0f}"
        return text


def backend_pid() -> int | None:
    """The PostgreSQL server process of this connection (on this machine); None on SQLite."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid: int = cursor.fetchone()[0]
    return pid


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def timed(
    name: str, fn: Callable[[], Any], runs: int, note: Callable[[Any], str] | None = None
) -> Timed:
    result = fn()  # warm: the figures' first call imports and fills caches
    hz = os.sysconf("SC_CLK_TCK")
    samples, cpu, db_cpu = [], [], []
    for _ in range(runs):
        pid = backend_pid()
        ticks = cpu_ticks(pid) if pid else 0
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        if pid and backend_pid() == pid:  # the same connection throughout
            db_cpu.append((cpu_ticks(pid) - ticks) * 1000 / hz)
    found = Timed(name, samples, cpu, db_cpu or None, note(result) if note else "")
    print(
        f"  {name:<44} median {found.median:>7.1f} ms  (min {min(samples):.1f}, max "
        f"{max(samples):.1f}; CPU {found.cpu} ms){'  ' + found.note if found.note else ''}",
        flush=True,
    )
    return found


def profile(name: str, fn: Callable[[], Any], lines: int = 25) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(lines)
    print(f"\n--- cProfile of {name} (by own time) ---\n{out.getvalue()}", flush=True)


def body_of(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    content: bytes = response.content
    return content


def rollup_during(posts: int) -> int:
    """bench/intake_compare.py's --rollup-during: in an instance the bench prepared (its settings
    in the environment), `posts` posts of yesterday to the account's first URL; then, 2 s after
    each "go" line on stdin, that day rolled up (from nothing, as the worker does once a day per
    account) while the bench posts leads; after "stop", one line "DONE <roll-ups> <seconds>"."""
    import threading

    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone

    from leadpost.accounts.models import Account, User
    from leadpost.intake.models import LeadPostUrl
    from leadpost.vendors.counts import day_start
    from leadpost.vendors.models import RolledUp, VendorDay
    from leadpost.vendors.rollup import roll_up

    account = Account.objects.order_by("pk").first()
    assert account is not None, "no account: bench/service.py's prepare() makes one"
    url = LeadPostUrl.objects.filter(account=account).order_by("pk").values_list("pk", flat=True)
    agents = list(User.objects.filter(account=account).values_list("pk", flat=True))
    rng = random.Random(1)
    now = timezone.now()
    yesterday = account.local_date(now) - dt.timedelta(days=1)
    fill_account(account, make_vendors([url[0]], agents, rng), [posts], [yesterday], now, rng, "r")
    since = day_start(yesterday, account.tz)

    def once() -> float:
        with transaction.atomic():
            VendorDay.objects.filter(account=account).delete()
            RolledUp.objects.update_or_create(account=account, defaults={"until": since})
        start = time.perf_counter()
        roll_up()
        return time.perf_counter() - start

    once()
    print("READY", flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            continue
        stop = threading.Event()
        took: list[float] = []

        def work(stop: threading.Event = stop, took: list[float] = took) -> None:
            if not stop.wait(2.0):  # into the run, with posts arriving
                took.append(once())

        thread = threading.Thread(target=work)
        thread.start()
        sys.stdin.readline()  # "stop"
        stop.set()
        thread.join()
        print(f"DONE {len(took)} {sum(took):.3f}", flush=True)
    return 0


def main() -> int:
    if "--rollup-during" in sys.argv:
        during = argparse.ArgumentParser()
        during.add_argument("--rollup-during", action="store_true")
        during.add_argument("--posts", type=int, default=11_000)
        return rollup_during(during.parse_args().posts)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--posts", type=int, default=1_000_000, help="the account's posts (1,000,000)"
    )
    parser.add_argument(
        "--today",
        type=int,
        help=f"of them, today's (default {100 * TODAY_SHARE:.1f}%%: 11,000 of 1,000,000)",
    )
    parser.add_argument("--runs", type=int, default=7, help="timed runs per figure (default 7)")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database the last run filled"
    )
    parser.add_argument(
        "--keep-rollup",
        action="store_true",
        help="with --reuse: keep its roll-up too, not timed again (the figures only)",
    )
    parser.add_argument("--data-dir", type=Path, help="default: /tmp/leadpost-vendor-figures-<db>")
    parser.add_argument("--bench-database", default="leadpost_bench_vendors")
    parser.add_argument(
        "--profile",
        action="store_true",
        help=f"print a cProfile of each figure slower than {TARGET_MS} ms",
    )
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL") or None
    data_dir = args.data_dir or Path(
        f"/tmp/leadpost-vendor-figures-{'pg' if server_url else 'sqlite'}"
    )
    where = configure(data_dir, server_url, args.bench_database, reuse=args.reuse)

    import django

    django.setup()
    import logging

    # A missing route's 404 is said once below, loudly, not as Django's warning per request.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from bench.service import machine
    from leadpost.accounts.models import ApiToken
    from leadpost.vendors import figures, present
    from leadpost.vendors.models import RolledUp, VendorDay
    from leadpost.vendors.rollup import roll_up

    print(f"Machine: {machine()}; load average {os.getloadavg()[0]:.2f} at the start")
    print(f"Database: {where}" + (f" ({postgres_settings()})" if server_url else ""), flush=True)

    today = round(args.posts * TODAY_SHARE) if args.today is None else args.today
    if args.reuse:  # a reused database gets the migrations added since it was filled
        from django.db.utils import DatabaseError

        try:
            call_command("migrate", verbosity=0)
        except DatabaseError:
            connection.close()
    found = reused(args.posts, today) if args.reuse else None
    if found is None:
        if args.reuse:  # what is there is not this fill: start again from an empty database
            connection.close()
            where = configure(data_dir, server_url, args.bench_database, reuse=False)
        call_command("migrate", verbosity=0)
        print(f"Filling: {args.posts:,} posts over {DAYS} days to {URLS} URLs ...", flush=True)
        start = time.perf_counter()
        found = fill(args.posts, today, args.seed)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # as autovacuum would soon: plans for the table's size
        print(f"  filled in {time.perf_counter() - start:.0f} s", flush=True)
    else:
        print(f"Reusing the filled database ({found.posts:,} posts of the account)", flush=True)
        if not args.keep_rollup:  # the roll-up is measured: start it again from nothing
            VendorDay.objects.all().delete()
            RolledUp.objects.all().delete()

    account = found.account
    start, start_cpu = time.perf_counter(), time.process_time()
    stretches = roll_up()
    rollup_s, rollup_cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
    rows = VendorDay.objects.count()
    print(
        f"Roll-up of the backlog: {stretches} day(s) of 2 accounts into {rows:,} VendorDay rows in "
        f"{rollup_s:.1f} s, {rollup_cpu_s:.1f} s of CPU in this process "
        f"({1000 * rollup_s / max(1, stretches):.0f} ms per day); "
        f"{found.today_posts:,} posts of today left to the live part",
        flush=True,
    )
    state = RolledUp.objects.get(account=account)
    if account.local_date(state.until) != account.local_date(dt.datetime.now(dt.UTC)):
        print("  NOTE: within the roll-up's margin after midnight: yesterday is live too")

    def period(name: str) -> Any:
        return figures.parse_period(account, {"period": name})

    def report(name: str, url_id: int | None = None) -> Callable[[], Any]:
        return lambda: figures.report(account, period(name), sales_visible=True, url_id=url_id)

    def posts_of(rep: Any) -> str:
        return f"{rep.total.posts:,} posts"

    print(f"\nTimed, median of {args.runs} runs after one warm-up:", flush=True)
    results: list[Timed] = []
    jobs: list[tuple[str, Callable[[], Any], Callable[[Any], str] | None]] = [
        ("report(): today (the live part only)", report("today"), posts_of),
        ("report(): 7 days", report("7"), posts_of),
        ("report(): 30 days", report("30"), posts_of),
        ("report(): 90 days", report("90"), posts_of),
        (
            f"report(): 90 days, one URL ({found.biggest_url})",
            report("90", found.biggest_url),
            posts_of,
        ),
        (
            "report() + report_json(days): 90 days",
            lambda: json.dumps(present.report_json(report("90")(), days=True)),
            lambda body: f"{len(body):,} bytes",
        ),
        (
            "report() + csv_lines(): 90 days",
            lambda: "".join(present.csv_lines(report("90")())),
            lambda body: f"{len(body):,} bytes",
        ),
    ]
    for name, fn, note in jobs:
        results.append(timed(name, fn, args.runs, note))
        if args.profile and results[-1].median > TARGET_MS:
            profile(name, fn)

    staff = Client()
    staff.force_login(found.admin)
    token = ApiToken.issue(account, "vendor figures bench")[1]
    api = Client(headers={"authorization": f"Bearer {token}"})
    missing = []
    for who, template in ROUTES:
        path = template.format(url_id=found.biggest_url)
        client = staff if who == "staff" else api
        first = client.get(path)
        body_of(first)
        if first.status_code == 404:
            missing.append(path)
            print(f"  !!! MISSING ROUTE: {who} GET {path} answered 404: not timed", flush=True)
            continue
        if first.status_code != 200:
            print(f"  !!! {who} GET {path} answered {first.status_code}: not timed", flush=True)
            missing.append(path)
            continue

        def get(client: Client = client, path: str = path) -> bytes:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return body_of(response)

        name = f"{who} GET {path}"
        results.append(timed(name, get, args.runs, lambda body: f"{len(body):,} bytes"))
        if args.profile and results[-1].median > TARGET_MS:
            profile(name, get)

    database = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"
    print(
        f"\n{database}, {found.posts:,} posts ({found.today_posts:,} today), {URLS} URLs, "
        f"{DAYS} days; load average {os.getloadavg()[0]:.2f} at the end\n"
    )
    print(f"| figure | median ms | min–max ms | CPU ms | ≤ {TARGET_MS} ms | |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| roll-up of the backlog ({stretches} days) | {1000 * rollup_s:,.0f} | | "
        f"{1000 * rollup_cpu_s:,.0f} | (one-off) | |"
    )
    for t in results:
        verdict = "yes" if t.median <= TARGET_MS else "**no**"
        print(
            f"| {t.name} | {t.median:.1f} | {min(t.runs_ms):.1f}–{max(t.runs_ms):.1f} | "
            f"{t.cpu} | {verdict} | {t.note} |"
        )
    for path in missing:
        print(f"| {path} | MISSING | | | | not served by this tree |")
    if missing:
        print(f"\n!!! {len(missing)} route(s) missing or failing: see the lines marked !!! above")
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
