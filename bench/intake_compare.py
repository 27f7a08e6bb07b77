#!/usr/bin/env python3
"""Compare server configurations (or code trees) for lead posts, interleaved in one run.

    .venv/bin/python bench/intake_compare.py \\
        --variant "plain:" --variant "no WAL: --db-option init_command=\"PRAGMA journal_mode=DELETE\""
    DATABASE_URL=postgres://... .venv/bin/python bench/intake_compare.py \\
        --variant "default:" --variant "checks: --db-setting CONN_HEALTH_CHECKS=true"
    .venv/bin/python bench/intake_compare.py --variant "before: --root ../main-before" --variant "after:"

A machine's speed drifts by 10-25% from one minute to the next (other tenants of the host, a
neighbour's job): two intake_load.py runs minutes apart cannot tell a 10% change from noise. Here
every variant's server runs side by side (idle ones cost nothing), and short runs alternate between
them, round after round, each lead run paired with a trivial-endpoint run of the same server just
before it. The median over rounds of leads/s and of the ratio to the trivial endpoint is printed
per variant; only a difference that holds in most rounds means something.

Each --variant is "NAME: OPTIONS" with OPTIONS among --engine ENGINE, --db-setting NAME=JSON,
--db-option NAME=JSON, --workers N, --threads N (gunicorn's threaded worker), --no-access-log,
--root DIR (another checkout, with this bench/ copied into it), --env NAME=VALUE (a setting).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.intake_load import QUIET, summarise, wrk
from bench.leads import typical_template
from bench.service import Service, machine, running


def variant_options(text: str) -> tuple[str, argparse.Namespace]:
    name, _, options = text.partition(":")
    parser = argparse.ArgumentParser(prog=f"--variant {name!r}", add_help=False)
    parser.add_argument("--engine")
    parser.add_argument("--db-setting", action="append", default=[])
    parser.add_argument("--db-option", action="append", default=[])
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument("--root", type=Path)
    parser.add_argument("--env", action="append", default=[])
    return name.strip(), parser.parse_args(shlex.split(options))


def pairs(options: list[str]) -> dict[str, Any]:
    return {k: json.loads(v) for k, v in (o.split("=", 1) for o in options)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", action="append", required=True, help="NAME: OPTIONS")
    parser.add_argument("--level", type=int, default=16, help="concurrency (default 16)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per run (default 5)")
    parser.add_argument("--quiet-wait", type=float, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (Debian)")
    QUIET["max_wait"] = args.quiet_wait
    server_url = os.environ.get("DATABASE_URL") or None
    work = Path(tempfile.mkdtemp(prefix="leadpost-compare-"))
    body_file = work / "lead.form"
    body_file.write_text(typical_template())

    variants = []
    for i, text in enumerate(args.variant):
        name, options = variant_options(text)
        service = Service(
            database_url=server_url,
            bench_database=f"leadpost_bench_{i}",
            workers=options.workers,
            threads=options.threads,
            access_log=not options.no_access_log,
            engine=options.engine,
            db_options=pairs(options.db_option),
            db_settings=pairs(options.db_setting),
            extra_env=dict(item.split("=", 1) for item in options.env),
            **({"root": options.root.resolve()} if options.root else {}),
        )
        variants.append((name, service))
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in variants}
    print(f"Machine: {machine()}")
    print(
        f"{'PostgreSQL' if server_url else 'SQLite'}; c{args.level}, {args.rounds} rounds of "
        f"{args.duration} s runs per variant, alternating"
    )
    try:
        tokens = {name: service.prepare(["warmup", "lead"]) for name, service in variants}
        with ExitStack() as stack:
            for _, service in variants:
                stack.enter_context(running(service))
            for name, service in variants:  # warm-up, not counted
                wrk(service, "/bench/ping", args.level, 2)
                wrk(
                    service,
                    "/leadpost/" + tokens[name]["warmup"],
                    args.level,
                    3,
                    body_file=body_file,
                    run="warmup",
                )
            for round_ in range(args.rounds):
                order = variants if round_ % 2 == 0 else variants[::-1]
                for name, service in order:
                    ping = summarise(
                        wrk(service, "/bench/ping", args.level, args.duration), lead=False
                    )
                    lead = summarise(
                        wrk(
                            service,
                            "/leadpost/" + tokens[name]["lead"],
                            args.level,
                            args.duration,
                            body_file=body_file,
                            run=f"r{round_}",
                        ),
                        lead=True,
                    )
                    results[name].append({"ping": ping, "lead": lead})
                    print(
                        f"  round {round_ + 1} {name:<14} lead {lead['per_s']:>6.0f}/s "
                        f"p99 {lead['p99_ms']:>6.1f} ms errors {lead['errors']}  "
                        f"ping {ping['per_s']:>6.0f}/s  ratio {lead['per_s'] / ping['per_s']:.1%}",
                        flush=True,
                    )
    finally:
        for _, service in variants:
            service.cleanup()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{'variant':<14} {'leads/s':>8} {'p99 ms':>7} {'ping/s':>7} {'ratio':>6}  (medians)")
    for name, rows in results.items():

        def median(key: str, rows: list[dict[str, Any]] = rows) -> float:
            return statistics.median(r["lead"][key] for r in rows)

        ratio = statistics.median(r["lead"]["per_s"] / r["ping"]["per_s"] for r in rows)
        ping = statistics.median(r["ping"]["per_s"] for r in rows)
        errors = sum(r["lead"]["errors"] for r in rows)
        print(
            f"{name:<14} {median('per_s'):>8.0f} {median('p99_ms'):>7.1f} {ping:>7.0f} "
            f"{ratio:>6.1%}" + (f"  ERRORS {errors}" if errors else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
