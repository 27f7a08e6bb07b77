#!/usr/bin/env python3
"""What the cross-vendor duplicate look-up and its key write cost per post (SPEC §14).

    .venv/bin/python bench/duplicates_lookup.py                 # SQLite in a temp folder
    DATABASE_URL=postgres://... .venv/bin/python bench/duplicates_lookup.py
    .venv/bin/python bench/duplicates_lookup.py --records 20000 --posts 2000

In one process, no HTTP server, the engine's own functions (leadpost/records/duplicates.py), as
store_lead calls them: the look-up in autocommit, then in one transaction per post the record's
INSERT (not timed) and the key INSERT (timed). Two fills of `--records` records of two URLs, each
written by the same rule as a post (so the key table holds what production would):

- shared: every record carries the same three phones, e-mail and SSN (the bench lead's case:
  each shares every key with every earlier one), the two URLs alternating over 30 days; then
  `--posts` posts through one of them, each found and, mostly, writing nothing;
- distinct: every record its own keys; then `--posts` posts of new keys, each finding nothing
  and writing five rows.

Prints per scenario the key table's rows, the rows each look-up read, and the median, p95 and
mean of the look-up and of the key INSERT in ms, with the database's plan of the look-up.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.intake_profile import configure


def _ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[int(0.95 * (len(values) - 1))]
    return (
        f"median {1000 * statistics.median(values):.3f}, p95 {1000 * p95:.3f}, "
        f"mean {1000 * statistics.fmean(values):.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000, help="records filled per scenario")
    parser.add_argument("--posts", type=int, default=1_000, help="posts timed per scenario")
    parser.add_argument("--bench-database", default="leadpost_bench_dups")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL") or None
    data_dir = Path(tempfile.mkdtemp(prefix="leadpost-dups-"))
    configure(data_dir, database_url, args.bench_database)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, transaction
        from django.utils import timezone

        from leadpost.accounts.models import Account
        from leadpost.intake.models import LeadPostUrl
        from leadpost.lib import fastsql
        from leadpost.lib.choices import RecordType
        from leadpost.lib.encryption import ssn_index
        from leadpost.records import duplicates
        from leadpost.records.models import MatchKey, Record

        call_command("migrate", verbosity=0)
        print(f"Database: {connection.vendor} ({connection.settings_dict['ENGINE']})")
        window = dt.timedelta(days=30)

        def lead(n: int, shared: bool) -> dict[str, str]:
            i = 0 if shared else n
            return {
                "home_phone": f"(319) {i // 10000 % 1000:03d}-{i % 10000:04d}",
                "cell_phone": f"(515) {i // 10000 % 1000:03d}-{i % 10000:04d}",
                "business_phone": f"(641) {i // 10000 % 1000:03d}-{i % 10000:04d}",
                "email": f"Person{i}@Example.com",
                "ssn": f"{100_000_000 + i}",
            }

        def one(
            account: Account, url: LeadPostUrl, fields: dict[str, str], at: dt.datetime
        ) -> tuple[float, float, duplicates.Lookup]:
            keys = duplicates.keys_of(fields, ssn_index(fields["ssn"]))
            start = time.perf_counter()
            found = duplicates.find_duplicate(
                account.pk, url.pk, keys, received_at=at, window=window
            )
            looked = time.perf_counter() - start
            with transaction.atomic():
                record = Record(
                    account=account,
                    lead_post_url=url,
                    record_type=RecordType.INDIVIDUAL,
                    created_at=at,
                    first_name="Pat",
                    last_name="Lee",
                    **{k: v for k, v in fields.items() if k != "ssn"},
                )
                if found.duplicate is not None:
                    record.duplicate_of_id = found.duplicate.record_id
                fastsql.insert(record)
                start = time.perf_counter()
                duplicates.write_keys(account.pk, url.pk, record.pk, at, found.new_keys)
                wrote = time.perf_counter() - start
            return looked, wrote, found

        for scenario, shared in (("shared", True), ("distinct", False)):
            account = Account.objects.create(name=f"Bench {scenario}")
            urls = [LeadPostUrl.issue(account, name)[0] for name in ("Datalot", "NextGen")]
            now = timezone.now()
            step = window / args.records
            start = time.perf_counter()
            for n in range(args.records):
                at = now - window + step * n
                one(account, urls[n % 2], lead(n, shared), at)
            filled = time.perf_counter() - start
            rows = MatchKey.objects.filter(account=account).count()
            looks, writes, read, flagged, written = [], [], [], 0, 0
            for n in range(args.posts):
                fields = lead(args.records + n, shared)
                looked, wrote, found = one(
                    account, urls[1], fields, now + dt.timedelta(milliseconds=n)
                )
                looks.append(looked)
                writes.append(wrote)
                read.append(found.read)
                flagged += found.duplicate is not None
                written += len(found.new_keys)
            print(
                f"\n{scenario}: {args.records} records of 2 URLs over 30 days "
                f"(filled in {filled:.1f} s), {rows} key rows; then {args.posts} posts"
            )
            print(
                f"  rows read per look-up: median {statistics.median(read):.0f}, "
                f"max {max(read)}; flagged {flagged}, key rows written {written}"
            )
            print(f"  look-up ms:    {_ms(looks)}")
            print(f"  key INSERT ms: {_ms(writes)} (0 when nothing is new)")
            keys = duplicates.keys_of(lead(0, shared), ssn_index(lead(0, shared)["ssn"]))
            params = [account.pk, *keys.hashed()]
            params += [0] * (duplicates.KEYS_PER_LEAD - len(keys.hashed()))
            params += [connection.ops.adapt_datetimefield_value(t) for t in (now - window, now)]
            explain = "EXPLAIN" if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN"
            with connection.cursor() as cursor:
                cursor.execute(f"{explain} {duplicates._lookup_sql()}", params)
                plan = " / ".join(str(row[-1]).strip() for row in cursor.fetchall())
            print(f"  plan: {plan}")
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
