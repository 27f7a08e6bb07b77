#!/usr/bin/env python3
"""Where a typical lead post spends its time, and which SQL statements it runs.

    .venv/bin/python bench/intake_profile.py                 # SQLite in a temp folder
    DATABASE_URL=postgres://... .venv/bin/python bench/intake_profile.py
    .venv/bin/python bench/intake_profile.py --posts 2000 --profile   # + pyinstrument's tree
    .venv/bin/python bench/intake_profile.py --cap-per-day 100000000   # a capped URL (SPEC §14)

In one process, no HTTP server: posts go through Django's full WSGI stack (django.test.Client,
middleware included) to the real endpoint. Prints the statements of one typical post (after the
first, which creates the value-list entries), the mean time per post, and, with --profile, a
pyinstrument profile of many posts (pip install pyinstrument; a dev tool, not a dependency).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def configure(data_dir: Path, database_url: str | None, bench_database: str) -> None:
    from cryptography.fernet import Fernet

    for key in [k for k in os.environ if k.startswith("LEADPOST_")]:
        del os.environ[key]
    os.environ.update(
        {
            "LEADPOST_DATA_DIR": str(data_dir),
            "LEADPOST_SECRET_KEY": secrets.token_urlsafe(50),
            "LEADPOST_SSN_KEYS": Fernet.generate_key().decode(),
            "LEADPOST_SSN_INDEX_KEY": secrets.token_urlsafe(32),
            "LEADPOST_ALLOWED_HOSTS": "testserver",
            "DJANGO_SETTINGS_MODULE": os.environ.get(
                "BENCH_SETTINGS_MODULE", "bench.ping_settings"
            ),
        }
    )
    os.environ.pop("DATABASE_URL", None)
    if database_url:
        from bench.service import bench_database_url

        os.environ["DATABASE_URL"] = bench_database_url(database_url, bench_database)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=500, help="posts timed (default 500)")
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile")
    parser.add_argument(
        "--batch", type=int, default=0, help="posts per timed batch (default: posts/10, max 100)"
    )
    parser.add_argument("--engine", help="database ENGINE instead of the settings' one")
    parser.add_argument("--bench-database", default="leadpost_bench")
    parser.add_argument(
        "--cap-per-day",
        type=int,
        help="give the URL this cap per day and per month (SPEC §14; high enough for every post)",
    )
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL") or None
    data_dir = Path(tempfile.mkdtemp(prefix="leadpost-profile-"))
    configure(data_dir, database_url, args.bench_database)
    if args.engine:
        os.environ["BENCH_DB_ENGINE"] = args.engine
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        import leadpost.wsgi  # noqa: F401 - what the server imports at boot (ZIP index warm-up)
        from bench.leads import form_body, typical_lead
        from leadpost.accounts.models import Account, User
        from leadpost.intake.models import LeadPostUrl

        call_command("migrate", verbosity=0)
        account = Account.objects.create(name="Bench Agency")
        User.objects.create(account=account, username="ann", first_name="Ann", last_name="Agent")
        User.objects.create(account=account, username="bob", first_name="Bob", last_name="Broker")
        url, token = LeadPostUrl.issue(account, "Datalot")
        if args.cap_per_day:
            url.cap_per_day = url.cap_per_month = args.cap_per_day
            url.save(update_fields=["cap_per_day", "cap_per_month"])
        client = Client()
        path = f"/leadpost/{token}"

        def post(n: int) -> None:
            response = client.post(
                path,
                form_body(typical_lead(f"profile-{n}")),
                content_type="application/x-www-form-urlencoded",
            )
            assert response.status_code == 200, response.content

        post(0)  # creates the value-list entries; later posts find them
        with CaptureQueriesContext(connection) as queries:
            post(1)
        print(f"Database: {connection.vendor} ({connection.settings_dict['ENGINE']})")
        print(f"SQL statements of one typical post: {len(queries.captured_queries)}")
        for i, q in enumerate(queries.captured_queries, 1):
            sql = q["sql"]
            print(f"  {i:>2}. {sql[:150]}{'…' if len(sql) > 150 else ''}")

        for n in range(2, 52):  # warm caches
            post(n)
        # Timed in batches; the best batch is the figure least disturbed by other jobs on the
        # machine, the mean the one to expect.
        batch = args.batch or max(1, min(100, args.posts // 10))
        times = []
        n = 100
        for _ in range(max(1, args.posts // batch)):
            start = time.perf_counter()
            for _ in range(batch):
                post(n)
                n += 1
            times.append((time.perf_counter() - start) / batch)
        best, mean = min(times), sum(times) / len(times)
        print(
            f"\n{len(times) * batch} posts in batches of {batch}: {1000 * best:.2f} ms per post in "
            f"the best batch ({1 / best:.0f} posts/s on one core), {1000 * mean:.2f} ms on "
            "average; in process, no HTTP server"
        )

        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            profiler.start()
            for n in range(100_000, 100_000 + args.posts):
                post(n)
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
    finally:
        from django.db import connections

        connections.close_all()
        if database_url:
            from bench.service import drop_bench_database

            drop_bench_database(database_url, args.bench_database)
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
