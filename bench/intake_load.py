#!/usr/bin/env python3
"""Lead Post throughput and latency under load, against the same server's trivial endpoint.

    .venv/bin/python bench/intake_load.py                       # SQLite (a file in a temp folder)
    DATABASE_URL=postgres://u:p@127.0.0.1:5432/x .venv/bin/python bench/intake_load.py

Starts Leadpost as production does (`leadpost serve`: gunicorn, one sync worker per core, access log,
background worker) on a free port of 127.0.0.1, with a fresh data folder, secrets and database
(PostgreSQL: a database named --bench-database on DATABASE_URL's server, dropped and created
afresh). Then, for each concurrency level, drives it with wrk from a separate process for a fixed
time: first `GET /bench/ping` (a trivial Django view in the same server, the ceiling), then typical
lead posts (bench/leads.py: every SPEC §5 field, two custom fields, a short note, a fresh externalID
each). Prints leads/s, latency percentiles, errors, the ratio to the ceiling, and checks afterwards
that every 200 has its record. Figures, not assertions: see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.leads import typical_template
from bench.service import CpuMeter, Service, machine, running, wait_for_quiet

HERE = Path(__file__).resolve().parent
LUA = HERE / "intake_load.lua"


def postgres_settings(url: str) -> str:
    """The server's version and the settings that decide what a commit costs (durable or not)."""
    import psycopg

    names = ["fsync", "synchronous_commit", "full_page_writes", "wal_level", "shared_buffers"]
    with psycopg.connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        shown = [f"{n}={conn.execute(f'SHOW {n}').fetchone()[0]}" for n in names]  # type: ignore[index]
    return f"{version[0] if version else '?'}; " + ", ".join(shown)


def wrk(
    service: Service,
    path: str,
    connections: int,
    seconds: int,
    *,
    body_file: Path | None = None,
    run: str = "run",
    ids_file: Path | None = None,
) -> dict[str, Any]:
    """One wrk run; its BENCH-JSON line, plus the CPU seconds wrk itself used."""
    env = {**os.environ, "BENCH_PATH": path, "BENCH_RUN": run}
    if body_file is not None:
        env["BENCH_BODY_FILE"] = str(body_file)
    if ids_file is not None:
        env["BENCH_IDS_FILE"] = str(ids_file)
    quiet_wait(service)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    meter = CpuMeter(service)
    # One wrk thread: it needs a few % of one core at these rates, and the server needs the rest.
    # --timeout 30s: a slow answer is measured as latency, not dropped as a "timeout".
    with meter:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "30s",
                "-s",
                str(LUA),
                service.base + path,
            ],
            env=env,
            capture_output=True,
            text=True,
        )
    if out.returncode != 0 or "BENCH-JSON " not in out.stdout:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(x for x in out.stdout.splitlines() if x.startswith("BENCH-JSON "))
    figures: dict[str, Any] = json.loads(line[len("BENCH-JSON ") :])
    figures["loadgen_cpu_s"] = (after.ru_utime - before.ru_utime) + (
        after.ru_stime - before.ru_stime
    )
    figures.update(meter.report(figures["loadgen_cpu_s"]))
    return figures


QUIET = {"max_wait": 20.0}


def quiet_wait(service: Service) -> None:
    """On a shared machine, start a run only once other jobs are done (for up to --quiet-wait s)."""
    if QUIET["max_wait"] > 0:
        busy = wait_for_quiet(QUIET["max_wait"])
        if busy >= 10:
            print(f"  (the machine is busy elsewhere: {busy:.0f}% of a core; running anyway)")


def summarise(figures: dict[str, Any], *, lead: bool) -> dict[str, Any]:
    seconds = figures["duration_us"] / 1e6
    statuses = {int(k): v for k, v in figures["statuses"].items()}
    ok = statuses.get(200, 0)
    socket_errors = sum(v for k, v in figures["errors"].items() if k != "status")
    lat = figures["latency_us"]
    return {
        "seconds": round(seconds, 2),
        "ok": ok,
        "per_s": round(ok / seconds, 1),
        "created": figures["results"].get("created", 0) if lead else None,
        "results": figures["results"],
        "statuses": figures["statuses"],
        "errors": sum(v for k, v in statuses.items() if k != 200) + socket_errors,
        "socket_errors": figures["errors"],
        "p50_ms": lat["p50"] / 1000,
        "p90_ms": lat["p90"] / 1000,
        "p99_ms": lat["p99"] / 1000,
        "max_ms": lat["max"] / 1000,
        "loadgen_cpu_pct": round(100 * figures["loadgen_cpu_s"] / seconds, 1),
        "server_cpu_pct": figures["server_cpu_pct"],
        "database_cpu_pct": figures["database_cpu_pct"],
        "other_cpu_pct": figures["other_cpu_pct"],
    }


RECONCILE = """
from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.records.models import Record
from django.db.models import Count
from django.db import connection
url = LeadPostUrl.objects.get(label=LABEL)
ids = sorted(Record.objects.filter(lead_post_url=url).values_list("id", flat=True))
logs = dict(PostLog.objects.filter(lead_post_url=url).values_list("status_code").annotate(n=Count("id")).values_list("status_code", "n"))
result = {"record_ids": ids, "post_log_by_status": {str(k): v for k, v in logs.items()}}
"""


def reconcile(service: Service, label: str, ids_file: Path) -> dict[str, Any]:
    """Compare the 200s wrk saw with the records stored by that level's Lead Post URL."""
    db = service.query(f"LABEL = {label!r}\n" + RECONCILE)
    stored = set(db["record_ids"])
    answered = [int(x) for x in ids_file.read_text().split()] if ids_file.exists() else []
    lost = [i for i in answered if i not in stored]
    # wrk stops mid-flight: posts it had sent when its time was up are still stored and answered
    # 200 by the server, to a closed connection (a vendor's time-out, which it retries and we
    # answer "duplicate"). At most one per connection.
    unseen = len(stored - set(answered))
    return {
        "records": len(stored),
        "ok_seen": len(answered),
        "lost": len(lost),
        "answered_after_stop": unseen,
        "post_log_200": db["post_log_by_status"].get("200", 0),
        "post_log_other": {k: v for k, v in db["post_log_by_status"].items() if k != "200"},
    }


def fmt_row(level: int, name: str, s: dict[str, Any], ratio: str = "") -> str:
    return (
        f"{level:>4}  {name:<6} {s['per_s']:>8.0f} {s['p50_ms']:>8.1f} {s['p90_ms']:>8.1f} "
        f"{s['p99_ms']:>8.1f} {s['max_ms']:>8.0f} {s['errors']:>6} {s['server_cpu_pct']:>6.0f}% {s['database_cpu_pct']:>5.0f}% "
        f"{s['loadgen_cpu_pct']:>6.0f}% {s['other_cpu_pct']:>6.0f}%{' (!)' if s['other_cpu_pct'] >= 10 else ''}"
        f"  {ratio}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--levels", default="1,16,64", help="concurrency levels (default 1,16,64)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up (default 3)")
    parser.add_argument("--workers", type=int, default=0, help="web workers (default: cores)")
    parser.add_argument("--engine", help="database ENGINE to use instead of the settings' one")
    parser.add_argument(
        "--db-option",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="add to the database's OPTIONS, e.g. server_side_binding=true (repeatable)",
    )
    parser.add_argument(
        "--db-setting",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="set in the database's settings, e.g. CONN_HEALTH_CHECKS=false (repeatable)",
    )
    parser.add_argument(
        "--no-access-log",
        action="store_true",
        help="start gunicorn directly with serve's arguments minus the access log (and no "
        "background worker), to measure what per-request logging costs",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="start gunicorn directly with this many threads per worker (a threaded server)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the server, e.g. LEADPOST_THREADS=8 (repeatable)",
    )
    parser.add_argument("--bench-database", default="leadpost_bench")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=20,
        help="before each run, wait up to this many seconds for other jobs on the machine to "
        "finish (default 20; 0: do not wait)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the data folder and database")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (Debian), or see bench/README.md")
    levels = [int(x) for x in args.levels.split(",")]
    QUIET["max_wait"] = args.quiet_wait

    service = Service(
        database_url=os.environ.get("DATABASE_URL") or None,
        bench_database=args.bench_database,
        workers=args.workers,
        engine=args.engine,
        access_log=not args.no_access_log,
        threads=args.threads,
        db_options={k: json.loads(v) for k, v in (o.split("=", 1) for o in args.db_option)},
        db_settings={k: json.loads(v) for k, v in (o.split("=", 1) for o in args.db_setting)},
        extra_env=dict(e.split("=", 1) for e in args.env),
    )
    work = Path(tempfile.mkdtemp(prefix="leadpost-wrk-"))
    rows: list[dict[str, Any]] = []
    try:
        tokens = service.prepare(["warmup"] + [f"c{c}" for c in levels])
        body_file = work / "lead.form"
        body_file.write_text(typical_template())
        server = "leadpost serve"
        if args.no_access_log or args.threads > 1:
            server = "gunicorn (serve's arguments" + (
                ", no access log" if args.no_access_log else ""
            )
            server += f", {args.threads} threads)" if args.threads > 1 else ")"
        if args.env:
            server += " with " + " ".join(args.env)
        engine = args.engine or "settings' default engine"
        if args.db_option:
            engine += ", OPTIONS + " + ", ".join(args.db_option)
        if args.db_setting:
            engine += ", " + ", ".join(args.db_setting)
        print(f"Machine: {machine()}", flush=True)
        print(
            f"Server: {server}, {args.workers or os.cpu_count()} workers; "
            f"{service.database} ({engine}); wrk -t1, {args.duration} s per run; "
            f"body {body_file.stat().st_size} bytes",
            flush=True,
        )
        if service.database_url:
            print(f"PostgreSQL: {postgres_settings(service.database_url)}", flush=True)
        with running(service):
            if args.warmup:
                wrk(service, "/bench/ping", 16, max(1, args.warmup // 2))
                wrk(
                    service,
                    "/leadpost/" + tokens["warmup"],
                    16,
                    args.warmup,
                    body_file=body_file,
                    run="warmup",
                )
                time.sleep(1)
            print(
                f"\n{'conc':>4}  {'path':<6} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} "
                f"{'p99 ms':>8} {'max ms':>8} {'errors':>6} {'server':>7} {'db':>6} {'wrk':>7} {'other':>7}",
                flush=True,
            )
            for level in levels:
                ping = summarise(wrk(service, "/bench/ping", level, args.duration), lead=False)
                print(fmt_row(level, "ping", ping), flush=True)
                ids_file = work / f"ids-c{level}.txt"
                lead = summarise(
                    wrk(
                        service,
                        "/leadpost/" + tokens[f"c{level}"],
                        level,
                        args.duration,
                        body_file=body_file,
                        run=f"c{level}",
                        ids_file=ids_file,
                    ),
                    lead=True,
                )
                ratio = lead["per_s"] / ping["per_s"] if ping["per_s"] else 0.0
                print(fmt_row(level, "lead", lead, f"{100 * ratio:.0f}% of ping"), flush=True)
                rows.append({"level": level, "ping": ping, "lead": lead, "ratio": ratio})
                time.sleep(1)  # the posts wrk left in flight finish before the next run
        print("\nAfterwards (every 200 must have its record):", flush=True)
        for row in rows:
            check = reconcile(service, f"c{row['level']}", work / f"ids-c{row['level']}.txt")
            row["check"] = check
            verdict = "OK" if check["lost"] == 0 and row["lead"]["errors"] == 0 else "FAILED"
            print(
                f"  c{row['level']}: {check['ok_seen']} 200s seen by wrk "
                f"({row['lead']['results']}), {check['records']} records, {check['lost']} 200s "
                f"without a record; {check['answered_after_stop']} answered 200 after wrk hung "
                f"up at its stop (records = 200s seen + those); post log: "
                f"{check['post_log_200']} x 200, other {check['post_log_other'] or 'none'}; "
                f"errors {row['lead']['errors']} -> {verdict}",
                flush=True,
            )
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "machine": machine(),
                        "database": service.database,
                        "engine": args.engine,
                        "db_options": args.db_option,
                        "db_settings": args.db_setting,
                        "server": server,
                        "workers": args.workers or os.cpu_count(),
                        "duration": args.duration,
                        "rows": rows,
                    },
                    indent=1,
                )
            )
    finally:
        service.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    failed = any(r["check"]["lost"] or r["lead"]["errors"] for r in rows if "check" in r)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
