#!/usr/bin/env python3
"""Compare server configurations (or code trees) for lead posts, interleaved in one run.

    .venv/bin/python bench/intake_compare.py \\
        --variant "plain:" --variant "no WAL: --db-option init_command=\"PRAGMA journal_mode=DELETE\""
    DATABASE_URL=postgres://... .venv/bin/python bench/intake_compare.py \\
        --variant "default:" --variant "checks: --db-setting CONN_HEALTH_CHECKS=true"
    .venv/bin/python bench/intake_compare.py --variant "before: --root ../main-before" --variant "after:"
    .venv/bin/python bench/intake_compare.py --variant "before: --commit f639fbc" \
        --variant "after: --commit 042a203" --rounds 3 --duration 10

A machine's speed drifts by 10-25% from one minute to the next (other tenants of the host, a
neighbour's job): two intake_load.py runs minutes apart cannot tell a 10% change from noise. Here
every variant's server runs side by side (idle ones cost nothing), and short runs alternate between
them, round after round, each lead run paired with a trivial-endpoint run of the same server just
before it. The median over rounds of leads/s and of the ratio to the trivial endpoint is printed
per variant; only a difference that holds in most rounds means something.

Each --variant is "NAME: OPTIONS" with OPTIONS among --engine ENGINE, --db-setting NAME=JSON,
--db-option NAME=JSON, --workers N, --threads N (gunicorn's threaded worker), --no-access-log,
--root DIR (another checkout, with this bench/ copied into it), --commit REV (a snapshot of that
commit, `git archive`, with this bench/ copied into it: the committed code, whatever the working
tree holds), --env NAME=VALUE (a setting), --rollup-during (the vendor counters' roll-up of an
11,000-post day, 2 s into each of that variant's lead runs: bench/vendor_figures.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.intake_load import QUIET, quiet_wait, summarise, wrk
from bench.leads import typical_template
from bench.service import Service, machine, running, snapshot_of_head, tree_state


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
    parser.add_argument("--commit")
    parser.add_argument("--rollup-during", action="store_true")
    parser.add_argument("--env", action="append", default=[])
    return name.strip(), parser.parse_args(shlex.split(options))


@contextlib.contextmanager
def no_quiet_wait(when: bool) -> Iterator[None]:
    """wrk() starting at once, without its wait for a quiet machine (`when`)."""
    saved = QUIET["max_wait"]
    if when:
        QUIET["max_wait"] = 0
    try:
        yield
    finally:
        QUIET["max_wait"] = saved


class RollupDuring:
    """bench/vendor_figures.py --rollup-during in the variant's instance: a day's roll-up during
    each of its lead runs (and none during the other variants' runs, which must not pay for it)."""

    def __init__(self, service: Service) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "bench/vendor_figures.py", "--rollup-during"],
            env=service.env,
            cwd=service.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._expect("READY")

    def _expect(self, word: str) -> str:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(word):
                return line
        raise RuntimeError(f"vendor_figures.py --rollup-during ended before {word}")

    def _say(self, word: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(word + "\n")
        self.process.stdin.flush()

    @contextlib.contextmanager
    def rolling(self) -> Iterator[dict[str, float]]:
        done: dict[str, float] = {}
        self._say("go")
        try:
            yield done
        finally:
            self._say("stop")
            _, count, seconds = self._expect("DONE").split()
            done.update(rollups=int(count), seconds=float(seconds))

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


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
    rolling: set[str] = set()
    loops: dict[str, RollupDuring] = {}
    snapshots = ExitStack()
    for i, text in enumerate(args.variant):
        name, options = variant_options(text)
        if options.commit:
            options.root = snapshots.enter_context(snapshot_of_head(options.commit))
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
        if options.rollup_during:
            rolling.add(name)
        print(
            f"  {name}: {tree_state(service.root)}"
            + (", roll-ups" if options.rollup_during else "")
        )
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in variants}
    print(f"Machine: {machine()}")
    print(
        f"{'PostgreSQL' if server_url else 'SQLite'}; c{args.level}, {args.rounds} rounds of "
        f"{args.duration} s runs per variant, alternating"
    )
    try:
        tokens = {name: service.prepare(["warmup", "lead"]) for name, service in variants}
        for name, service in variants:
            if name in rolling:
                loops[name] = RollupDuring(service)
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
                    rolling_now: contextlib.AbstractContextManager[dict[str, float]] = (
                        loops[name].rolling() if name in loops else contextlib.nullcontext({})
                    )
                    if name in loops:
                        # The wait for a quiet machine first, or the roll-up, 2 s after "go",
                        # would run in that wait with no post arriving.
                        quiet_wait(service)
                    with rolling_now as rolled, no_quiet_wait(name in loops):
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
                        f"p99 {lead['p99_ms']:>6.1f} max {lead['max_ms']:>5.0f} ms errors {lead['errors']}  "
                        f"ping {ping['per_s']:>6.0f}/s  ratio {lead['per_s'] / ping['per_s']:.1%}"
                        f"  other CPU {lead['other_cpu_pct']:.0f}%"
                        + (
                            f"  ({rolled['rollups']:.0f} roll-up of {rolled['seconds']:.2f} s)"
                            if rolled
                            else ""
                        ),
                        flush=True,
                    )
    finally:
        for loop in loops.values():
            loop.close()
        for _, service in variants:
            service.cleanup()
        snapshots.close()
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
    # Each variant's leads/s against the first one's, round by round (a round's runs are
    # minutes apart at most, so drift of the machine weighs less than across the whole run).
    first = next(iter(results))
    for name, rows in list(results.items())[1:]:
        per_round = [
            r["lead"]["per_s"] / f["lead"]["per_s"]
            for r, f in zip(rows, results[first], strict=True)
        ]
        medians = statistics.median(r["lead"]["per_s"] for r in rows) / statistics.median(
            r["lead"]["per_s"] for r in results[first]
        )
        print(
            f"{name} / {first}: {medians:.1%} of the medians; rounds "
            + ", ".join(f"{x:.0%}" for x in per_round)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
