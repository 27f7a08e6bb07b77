#!/usr/bin/env python3
"""Do a handful of hostile slow connections stop the service from taking leads? (SPEC §2)

    .venv/bin/python bench/slow_clients.py                          # `leadpost serve`, SQLite
    .venv/bin/python bench/slow_clients.py --variant gunicorn-sync --variant haproxy
    DATABASE_URL=postgres://u:p@127.0.0.1:5432/x .venv/bin/python bench/slow_clients.py

For each server set-up (--variant, see VARIANTS), each kind of hostile connection and each K, a
phase of --seconds: K hostile connections to a Lead Post URL are opened and held (re-opened at once
when the server ends one, as an attacker reconnects) while one normal vendor posts a typical lead
(bench/leads.py) every --interval seconds, each on a new connection with a --timeout deadline.
Kinds: "trickle" (headers with Content-Length 10,000, then one byte of body a second), "silent"
(connect, send nothing), "headers" (the headers, then nothing). Prints, per phase, the normal
vendor's posts, 200s, failures, time-outs and latency (p50/p95/max over every post; a time-out
counts as the full --timeout), and how often the server ended a hostile connection. A phase with
K = 0 first is the baseline. Figures, not assertions: see bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.leads import form_body, typical_lead
from bench.rawhttp import Answer, build, exchange
from bench.service import ROOT, Service, free_port, machine, snapshot_of_head, tree_state

FORM = "application/x-www-form-urlencoded"

# gunicorn as `leadpost serve` started it (leadpost/intake/management/commands/serve.py as
# committed up to ee3cd90): sync workers, one per core, the redacting access log; without serve's
# background worker, which has nothing to do here.
GUNICORN = (
    "{python}",
    "-m",
    "gunicorn",
    "leadpost.wsgi:application",
    "--bind",
    "127.0.0.1:{port}",
    "--workers",
    "{workers}",
    "--timeout",
    "120",
    "--graceful-timeout",
    "30",
    "--access-logfile",
    "-",
    "--logger-class",
    "bench.gunicorn_logger.RedactingLogger",
    "--access-logformat",
    '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms "%(a)s"',
)
GRANIAN = ("{bin}/granian", "--host", "127.0.0.1", "--port", "{port}", "--workers", "{workers}")

# haproxy in front of the app: it reads the whole body (up to its buffer, 16 KiB by default)
# before it opens a connection to the app, and gives a client 10 s for headers and body.
HAPROXY = """\
global
    maxconn 4096
defaults
    mode http
    option http-buffer-request
    timeout http-request 10s
    timeout connect 5s
    timeout client 30s
    timeout server 130s
    timeout queue 30s
frontend leadpost
    bind 127.0.0.1:{front_port}
    default_backend app
backend app
    server app1 127.0.0.1:{back_port}
"""


@dataclass(frozen=True)
class Variant:
    description: str
    command: tuple[str, ...] = ()  # empty: `leadpost serve`; else Service.command's format
    front: str = ""  # a haproxy configuration template in front of the server, or none


# One line per server set-up.
VARIANTS: dict[str, Variant] = {
    "serve": Variant("`leadpost serve` of the tree served (--root, --head)"),
    "gunicorn-sync": Variant("gunicorn, sync workers, as serve ran it", GUNICORN),
    "gunicorn-gthread": Variant(
        "gunicorn, gthread, 8 threads", (*GUNICORN, "--worker-class", "gthread", "--threads", "8")
    ),
    "granian-wsgi": Variant(
        "granian WSGI", (*GRANIAN, "--interface", "wsgi", "--no-ws", "leadpost.wsgi:application")
    ),
    "haproxy": Variant("haproxy (http-buffer-request) in front of `leadpost serve`", front=HAPROXY),
}

KINDS = ("trickle", "silent", "headers")
HOSTILE_LENGTH = 10_000


# Hostile connections ------------------------------------------------------------------------


@dataclass
class HostileStats:
    opened: int = 0
    connect_errors: int = 0
    ended: Counter[str] = field(default_factory=Counter)  # how the server ended them
    body_bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def end(self, how: str) -> None:
        with self.lock:
            self.ended[how] += 1


def hostile_head(path: str) -> bytes:
    return build(
        "POST",
        path,
        [("Content-Type", FORM), ("Content-Length", str(HOSTILE_LENGTH)), ("User-Agent", "slow")],
    )


def hostile_body(tag: str) -> bytes:
    head = f"firstName=Slow&lastName=Loris&externalID=slow-{tag}&notes=".encode()
    return head + b"x" * (HOSTILE_LENGTH - len(head))


def _ended_by_server(sock: socket.socket) -> str | None:
    """How the server ended this connection, if it did: an answer's status, "closed", "reset"."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return None
    try:
        data = sock.recv(4096)
    except ConnectionResetError:
        return "reset"
    except OSError:
        return "error"
    if not data:
        return "closed"
    first = data.split(b"\r\n", 1)[0].split(b" ")
    return f"answered {first[1].decode('latin-1')}" if len(first) > 1 else "answered"


def hold_hostile(
    port: int, kind: str, path: str, tag: str, stop: threading.Event, stats: HostileStats
) -> None:
    """One hostile connection, re-opened whenever the server ends it, until `stop`."""
    attempt = 0
    while not stop.is_set():
        attempt += 1
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            with stats.lock:
                stats.connect_errors += 1
            stop.wait(0.5)
            continue
        with stats.lock:
            stats.opened += 1
        try:
            sock.setblocking(True)
            sock.settimeout(5)
            if kind in ("trickle", "headers"):
                sock.sendall(hostile_head(path))
            body = hostile_body(f"{tag}-{attempt}")
            sent = 0
            while not stop.wait(1.0 if kind == "trickle" else 0.25):
                how = _ended_by_server(sock)
                if how is not None:
                    stats.end(how)
                    break
                if kind == "trickle" and sent < len(body):
                    try:
                        sock.send(body[sent : sent + 1])
                    except OSError:
                        stats.end("send failed")
                        break
                    sent += 1
                    with stats.lock:
                        stats.body_bytes += 1
        finally:
            with contextlib.suppress(OSError):
                sock.close()


# The normal vendor ------------------------------------------------------------------------


@dataclass
class Post:
    status: int | None
    result: str | None
    error: str | None
    seconds: float
    record_id: int | None = None


def normal_post(port: int, path: str, external_id: str, timeout: float) -> Post:
    body = form_body(typical_lead(external_id)).encode()
    request = build(
        "POST",
        path,
        [("Content-Type", FORM), ("User-Agent", "bench-normal"), ("Connection", "close")],
        body,
    )
    answer: Answer = exchange(port, request, timeout=timeout)
    result = record_id = None
    if answer.status is not None:
        with contextlib.suppress(ValueError, AttributeError):
            payload = json.loads(answer.body)
            result = payload.get("result")
            record_id = payload.get("recordId")
    return Post(answer.status, result, answer.error, answer.seconds, record_id)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Phase:
    variant: str
    kind: str
    k: int
    posts: int
    ok: int
    failed: int
    timeouts: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    failures: dict[str, int]
    hostile_opened: int
    hostile_ended: dict[str, int]
    hostile_connect_errors: int
    recovery_s: float


def run_phase(
    variant: str,
    port: int,
    kind: str,
    k: int,
    paths: dict[str, str],
    args: argparse.Namespace,
    sequence: list[int],
    recovery_s: float,
) -> tuple[Phase, list[Post]]:
    stop = threading.Event()
    stats = HostileStats()
    hostile = [
        threading.Thread(
            target=hold_hostile,
            args=(port, kind, paths["hostile"], f"{variant}-{kind}-{k}-{i}", stop, stats),
            daemon=True,
        )
        for i in range(k)
    ]
    for thread in hostile:
        thread.start()
    if k:
        time.sleep(1.0)  # the hostile connections reach the server before the vendor posts
    posts: list[Post] = []
    lock = threading.Lock()

    def one(external_id: str) -> None:
        post = normal_post(port, paths["normal"], external_id, args.timeout)
        with lock:
            posts.append(post)

    threads = []
    start = time.monotonic()
    count = max(1, int(args.seconds / args.interval))
    for i in range(count):
        delay = start + i * args.interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sequence[0] += 1
        thread = threading.Thread(target=one, args=(f"normal-{sequence[0]}",), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(args.timeout + 5)
    stop.set()
    for thread in hostile:
        thread.join(10)

    failures: Counter[str] = Counter()
    latencies = []
    ok = timeouts = 0
    for post in posts:
        if post.status == 200:
            ok += 1
            latencies.append(post.seconds)
            continue
        if post.error == "timeout":
            timeouts += 1
            latencies.append(args.timeout)
        else:
            failures[str(post.status) if post.status else post.error or "?"] += 1
            latencies.append(post.seconds)
    phase = Phase(
        variant=variant,
        kind=kind if k else "-",
        k=k,
        posts=len(posts),
        ok=ok,
        failed=sum(failures.values()),
        timeouts=timeouts,
        p50_ms=1000 * percentile(latencies, 0.50),
        p95_ms=1000 * percentile(latencies, 0.95),
        max_ms=1000 * max(latencies, default=0.0),
        failures=dict(failures),
        hostile_opened=stats.opened,
        hostile_ended=dict(stats.ended),
        hostile_connect_errors=stats.connect_errors,
        recovery_s=recovery_s,
    )
    return phase, posts


def wait_until_answering(port: int, limit: float = 60) -> float:
    """Seconds until GET /bench/ping answers 200 (the server recovered from the last phase)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        answer = exchange(port, build("GET", "/bench/ping", [("Connection", "close")]), timeout=5)
        if answer.status == 200:
            return time.monotonic() - started
        time.sleep(0.2)
    return time.monotonic() - started


# Server set-ups ---------------------------------------------------------------------------------


class Front:
    """haproxy in front of a running Service, from a configuration template."""

    def __init__(self, template: str, back_port: int, folder: Path) -> None:
        self.port = free_port()
        self.config = folder / "haproxy.cfg"
        self.config.write_text(template.format(front_port=self.port, back_port=back_port))
        subprocess.run(["haproxy", "-c", "-q", "-f", str(self.config)], check=True)
        self.log = open(folder / "haproxy.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(self.config)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def reconcile(service: Service) -> dict[str, Any]:
    code = """
from django.db.models import Count
from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.records.models import Record
result = {}
for label in ("normal", "hostile"):
    url = LeadPostUrl.objects.get(label=label)
    rows = (PostLog.objects.filter(lead_post_url=url).values("status_code", "result")
            .annotate(n=Count("id")).order_by("status_code", "result"))
    result[label] = {
        "records": list(Record.objects.filter(lead_post_url=url).values_list("id", flat=True)),
        "post_log": {f"{r['status_code']} {r['result']}": r["n"] for r in rows},
    }
"""
    answer: dict[str, Any] = service.query(code)
    return answer


def fmt(phase: Phase) -> str:
    ended = ", ".join(f"{how} x{n}" for how, n in sorted(phase.hostile_ended.items())) or "-"
    fails = ", ".join(f"{what} x{n}" for what, n in sorted(phase.failures.items()))
    return (
        f"{phase.variant:<16} {phase.kind:<8} {phase.k:>3} {phase.posts:>5} {phase.ok:>4} "
        f"{phase.failed:>6} {phase.timeouts:>8} {phase.p50_ms:>8.0f} {phase.p95_ms:>8.0f} "
        f"{phase.max_ms:>8.0f}  {phase.hostile_opened:>6}  {ended}"
        + (f"  [failures: {fails}]" if fails else "")
        + (f"  (recovered {phase.recovery_s:.1f} s)" if phase.recovery_s >= 1 else "")
    )


HEADER = (
    f"{'variant':<16} {'kind':<8} {'K':>3} {'posts':>5} {'200':>4} {'failed':>6} "
    f"{'timeouts':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  {'opened':>6}  "
    "hostile connections ended by the server"
)


def run_variant(
    name: str, args: argparse.Namespace, kinds: list[str], levels: list[int]
) -> list[Phase]:
    variant = VARIANTS[name]
    service = Service(
        database_url=os.environ.get("DATABASE_URL") or None,
        bench_database=args.bench_database,
        workers=args.workers,
        command=variant.command,
        keep=args.keep,
        root=args.root,
    )
    front: Front | None = None
    phases: list[Phase] = []
    normal: list[Post] = []
    try:
        tokens = service.prepare(["normal", "hostile"])
        paths = {label: f"/leadpost/{token}" for label, token in tokens.items()}
        service.start()
        port = service.port
        if variant.front:
            front = Front(variant.front, service.port, service.data_dir)
            port = front.port
            wait_until_answering(port, 30)
        print(f"\nVariant {name}: {variant.description}", flush=True)
        for line in dict.fromkeys(service.process_tree()):
            print(f"  ran: {line}", flush=True)
        if front is not None:
            version = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout
            print(f"  ran: haproxy -db -f haproxy.cfg ({version.splitlines()[0]}):", flush=True)
            for line in front.config.read_text().splitlines():
                print(f"       | {line}", flush=True)
        print(
            f"  {service.database}; {args.seconds:g} s per phase, a post every {args.interval:g} s, "
            f"{args.timeout:g} s client time-out\n",
            flush=True,
        )
        sequence = [0]
        for _ in range(2 * (args.workers or os.cpu_count() or 1)):  # warm-up, not counted
            sequence[0] += 1
            normal.append(normal_post(port, paths["normal"], f"warmup-{sequence[0]}", args.timeout))
        print(HEADER, flush=True)
        plan = [("-", 0)] + [(kind, k) for kind in kinds for k in levels]
        for kind, k in plan:
            recovery = wait_until_answering(port)
            phase, posts = run_phase(name, port, kind, k, paths, args, sequence, recovery)
            phases.append(phase)
            normal += posts
            print(fmt(phase), flush=True)
        time.sleep(2)
        wait_until_answering(port)
        check = reconcile(service)
        created = {p.record_id for p in normal if p.result == "created"}
        stored = set(check["normal"]["records"])
        print(
            f"\n  Normal vendor: {len(normal)} posts, {len(created)} answered created, "
            f"{len(stored)} records ({len(created - stored)} created answers without a record, "
            f"{len(stored - created)} records whose answer was lost, e.g. to a time-out); "
            f"post log: {check['normal']['post_log']}",
            flush=True,
        )
        print(
            f"  Hostile URL: {len(check['hostile']['records'])} records, post log "
            f"{check['hostile']['post_log'] or '{}'} (a cut-short body must make no record; "
            "SPEC §2 wants its log row to say it was cut short)",
            flush=True,
        )
    finally:
        if front is not None:
            front.stop()
        service.cleanup()
    return phases


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Variants: " + "; ".join(f"{name}: {v.description}" for name, v in VARIANTS.items()),
    )
    parser.add_argument(
        "--variant",
        action="append",
        choices=list(VARIANTS),
        help="server set-up, repeatable (default: serve)",
    )
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"default {','.join(KINDS)}")
    parser.add_argument("--levels", default="1,2,8,32", help="hostile connections K (1,2,8,32)")
    parser.add_argument("--seconds", type=float, default=15, help="seconds per phase (15)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between posts (0.5)")
    parser.add_argument("--timeout", type=float, default=10, help="client time-out, s (10)")
    parser.add_argument("--workers", type=int, default=0, help="web workers (default: cores)")
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="the source tree to serve (default: this one, the working tree)",
    )
    parser.add_argument(
        "--head",
        action="store_true",
        help="serve the committed code instead: a snapshot of HEAD (git archive) with this "
        "bench/ copied in, so that others' uncommitted edits do not change the figures mid-run",
    )
    parser.add_argument(
        "--commit", metavar="REV", help="like --head, with another commit (to compare before/after)"
    )
    parser.add_argument("--bench-database", default="leadpost_bench_slow")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the data folder and database")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
    levels = [int(x) for x in args.levels.split(",")]
    with contextlib.ExitStack() as stack:
        if args.head or args.commit:
            args.root = stack.enter_context(snapshot_of_head(args.commit or "HEAD"))
        return run(args, kinds, levels)


def run(args: argparse.Namespace, kinds: list[str], levels: list[int]) -> int:
    print(f"Machine: {machine()}", flush=True)
    print(f"Tree: {tree_state(args.root)}", flush=True)
    phases: list[Phase] = []
    for name in args.variant or ["serve"]:
        phases += run_variant(name, args, kinds, levels)
    if len(args.variant or []) > 1:
        print("\nAll variants:\n" + HEADER)
        for phase in phases:
            print(fmt(phase))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "tree": tree_state(args.root),
                    "phases": [asdict(p) for p in phases],
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
