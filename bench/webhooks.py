#!/usr/bin/env python3
"""Webhooks (SPEC §12, issue 12): what one worker delivers, and what events cost the lead endpoint.

    .venv/bin/python bench/webhooks.py                          # SQLite (a file in a temp folder)
    DATABASE_URL=postgres://u:p@127.0.0.1:5432/x .venv/bin/python bench/webhooks.py

A fresh instance (bench/service.py: data folder, secrets, database; PostgreSQL: a database named
--bench-database on DATABASE_URL's server, dropped and made afresh) served by `leadpost serve
--no-worker` on 127.0.0.1, and a receiver in this process on 127.0.0.1 (a threaded HTTP server
answering 200) that checks every delivery's signature with its own HMAC code, counts distinct
event ids and duplicates, and looks for the posted SSN in clear. Loopback receivers need
LEADPOST_FETCH_ALLOW_LOOPBACK=1, which the settings accept only with LEADPOST_TESTING=1 or
LEADPOST_DEV=1: the instance runs with LEADPOST_TESTING=1 (as deploy/cluster_test.py does), which
changes nothing else.

1. Delivery: an account with one webhook (`record.created`) gets --events posts (the typical lead,
   without an agent, so the worker's only work is the webhooks) while no worker runs; then one
   `leadpost worker` starts, and the time until every event has arrived gives events/s. Then, with
   the worker running, --live posts one at a time at --live-rate per second: the latency from each
   event's `createdAt` to its arrival (the speed to lead a receiver sees).
2. The lead endpoint: wrk (bench/intake_load.py's runs, the typical lead) against an account without
   webhooks and an account with two (each taking every event type: a typical lead, with its agent,
   makes record.created and record.assigned, so four deliveries), alternating --rounds times;
   leads/s of each and the ratio. By default no worker runs during the load (events are written and
   wait: the endpoint's own cost, as on app servers with the workers elsewhere); --with-worker runs
   one `leadpost worker` throughout (one machine doing everything), and waits before each run until
   the previous run's deliveries are done, so each arm starts from an empty queue.

Figures, not assertions: see bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.intake_load import QUIET, postgres_settings, summarise, wrk
from bench.leads import form_body, typical_lead, typical_template
from bench.service import LEADPOST, Service, _process_ticks, free_port, machine, running

# The SSN bench/leads.py posts: no delivery may carry it in clear (SPEC §9).
POSTED_SSN = typical_lead("x")["ssn"]
ALL_EVENTS = ["record.created", "record.assigned", "attachment.stored", "attachment.failed"]
TOLERANCE = 300  # seconds: the receiver refuses older signatures, as the README's examples do


# --- the receiver -------------------------------------------------------------------------------


class Receiver:
    """Counts what arrives, per webhook path: distinct event ids, duplicates, bad signatures."""

    def __init__(self) -> None:
        self.secrets: dict[str, bytes] = {}  # path -> the webhook's secret
        self.lock = threading.Lock()
        self.arrived: dict[tuple[str, str], float] = {}  # (path, event id) -> wall time
        self.latency: dict[tuple[str, str], float] = {}  # seconds from the event's createdAt
        self.duplicates: Counter[str] = Counter()
        self.bad_signature: Counter[str] = Counter()
        self.ssn_in_clear: Counter[str] = Counter()
        self.types: Counter[tuple[str, str]] = Counter()
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for p, _ in self.arrived if p == path)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                now = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urlsplit(self.path).path
                ok = verify(
                    receiver.secrets.get(path, b""),
                    self.headers.get("Leadpost-Signature", ""),
                    body,
                    now=now,
                )
                with receiver.lock:
                    if not ok:
                        receiver.bad_signature[path] += 1
                    else:
                        event = json.loads(body)
                        key = (path, event["id"])
                        if self.headers.get("Leadpost-Event-Id") != event["id"]:
                            receiver.bad_signature[path] += 1
                        if (
                            POSTED_SSN.encode() in body
                            or POSTED_SSN.replace("-", "").encode() in body
                        ):
                            receiver.ssn_in_clear[path] += 1
                        if key in receiver.arrived:
                            receiver.duplicates[path] += 1
                        else:
                            receiver.arrived[key] = now
                            created = dt.datetime.fromisoformat(event["createdAt"]).timestamp()
                            receiver.latency[key] = now - created
                            receiver.types[(path, event["type"])] += 1
                answer = b"ok" if ok else b"bad signature"
                self.send_response(200 if ok else 400)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def verify(secret: bytes, header: str, body: bytes, *, now: float) -> bool:
    """The receiver's own check (not Leadpost's code): t=...,v1=... over "<t>.<body>"."""
    pairs = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [v for k, v in pairs if k == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit() or abs(now - int(stamps[0])) > TOLERANCE:
        return False
    expected = hmac.new(secret, stamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(k == "v1" and hmac.compare_digest(v, expected) for k, v in pairs)


# --- the instance: accounts, webhooks, a worker ----------------------------------------------


def new_account(service: Service, name: str, label: str) -> tuple[int, str]:
    """An account with the two agents bench/leads.py names, and one Lead Post URL: (id, token)."""
    account = service.leadpost("create-account", name, "--json")["account"]["id"]
    for first, last in (("Ann", "Agent"), ("Bob", "Broker")):
        service.leadpost(
            "create-user",
            "--account",
            str(account),
            "--first-name",
            first,
            "--last-name",
            last,
            "--json",
        )
    issued = service.leadpost("issue-url", "--account", str(account), "--label", label, "--json")
    return account, issued["leadPostUrl"]["token"]


SUBSCRIBE = """
from leadpost.webhooks.models import WebhookSubscription
from leadpost.webhooks.secrets import set_new_secret
sub = WebhookSubscription(account_id=ACCOUNT, url=URL, events=EVENTS, description="bench")
secret = set_new_secret(sub)
sub.save()
result = {"id": sub.pk, "secret": secret}
"""


def subscribe(
    service: Service, receiver: Receiver, account: int, path: str, events: list[str]
) -> None:
    made = service.query(
        f"ACCOUNT = {account}\nURL = {receiver.base + path!r}\nEVENTS = {events!r}\n" + SUBSCRIBE
    )
    receiver.secrets[path] = made["secret"].encode()


STATES = """
from django.db.models import Count, Max
from leadpost.webhooks.models import WebhookDelivery, WebhookEvent
events = WebhookEvent.objects.filter(account_id__in=ACCOUNTS)
deliveries = WebhookDelivery.objects.filter(event__account_id__in=ACCOUNTS)
result = {
    "events": events.count(),
    "undispatched": events.filter(dispatched=False).count(),
    "by_state": dict(deliveries.values_list("state").annotate(n=Count("id")).values_list("state", "n")),
    "most_attempts": deliveries.aggregate(m=Max("attempts"))["m"] or 0,
}
"""


def states(service: Service, accounts: list[int]) -> dict[str, Any]:
    return service.query(f"ACCOUNTS = {accounts!r}\n" + STATES)  # type: ignore[no-any-return]


class Worker:
    """One `leadpost worker` (django-tasks-db's db_worker plus the sweep), in its own group."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.process: subprocess.Popen[bytes] | None = None
        self.log = service.data_dir / "worker.log"

    def __enter__(self) -> Worker:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [LEADPOST, "worker", "--no-startup-delay"],
                env=self.service.env,
                cwd=self.service.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return _process_ticks(self.process.pid) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


# --- posting ------------------------------------------------------------------------------------


def lead_without_agent(external_id: str) -> bytes:
    lead = typical_lead(external_id)
    for name in ("servicingAgentFirstName", "servicingAgentLastName"):
        del lead[name]
    return form_body(lead).encode()


def post_leads(service: Service, token: str, ids: list[str], threads: int) -> Counter[str]:
    """Post one lead per id from `threads` keep-alive connections; the results answered."""
    results: Counter[str] = Counter()
    lock = threading.Lock()
    queue = list(ids)

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                external_id = queue.pop()
            result = post_one(conn, token, external_id)
            with lock:
                results[result] += 1
        conn.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return results


def post_one(conn: http.client.HTTPConnection, token: str, external_id: str) -> str:
    try:
        conn.request(
            "POST",
            "/leadpost/" + token,
            body=lead_without_agent(external_id),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        answer = conn.getresponse()
        data = answer.read()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        return f"error {type(exc).__name__}"
    try:
        return f"{answer.status} {json.loads(data).get('result')}"
    except ValueError:
        return f"{answer.status} (not JSON)"


def wait_for(receiver: Receiver, path: str, expected: int, stall: float) -> tuple[int, float]:
    """Poll until `expected` distinct events reached `path`, or none arrived for `stall` s."""
    seen, last_change = receiver.count(path), time.monotonic()
    while seen < expected and time.monotonic() - last_change < stall:
        time.sleep(0.05)
        now_seen = receiver.count(path)
        if now_seen != seen:
            seen, last_change = now_seen, time.monotonic()
    return seen, time.monotonic()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- 1. delivery by one worker ----------------------------------------------------------------


def delivery(service: Service, receiver: Receiver, args: argparse.Namespace) -> dict[str, Any]:
    path = "/delivery"
    account, token = new_account(service, "Bench Delivery", "delivery")
    subscribe(service, receiver, account, path, ["record.created"])
    print(
        f"\n1. Delivery by one worker: {args.events} posts (no agent) to an account with one "
        f"webhook (record.created) while no worker runs, then `leadpost worker`",
        flush=True,
    )
    started = time.monotonic()
    results = post_leads(service, token, [f"dlv-{i}" for i in range(args.events)], threads=8)
    posting = time.monotonic() - started
    waiting = states(service, [account])
    print(
        f"  posted in {posting:.1f} s: {dict(results)}; events written {waiting['events']}, "
        f"undispatched {waiting['undispatched']}",
        flush=True,
    )
    expected = results.get("200 created", 0)
    with Worker(service) as worker:
        t0 = time.monotonic()
        cpu0 = worker.cpu_seconds()
        seen, t_end = wait_for(receiver, path, expected, args.stall)
        cpu = worker.cpu_seconds() - cpu0
        with receiver.lock:
            stamps = sorted(t for (p, _), t in receiver.arrived.items() if p == path)
        wall0 = time.time() - (time.monotonic() - t0)
        first, last = (stamps[0] - wall0, stamps[-1] - wall0) if stamps else (0.0, 0.0)
        drain = {
            "events": expected,
            "delivered": seen,
            "missing": expected - seen,
            "duplicates": receiver.duplicates[path],
            "bad_signature": receiver.bad_signature[path],
            "ssn_in_clear": receiver.ssn_in_clear[path],
            "first_s": round(first, 2),
            "last_s": round(last, 2),
            "per_s": round(seen / last, 1) if last else 0.0,
            "steady_per_s": round((seen - 1) / (last - first), 1) if last > first else 0.0,
            "worker_cpu_ms_per_event": round(1000 * cpu / seen, 2) if seen else None,
            "p50_since_start_s": round(pct([t - wall0 for t in stamps], 0.5), 2),
            "p95_since_start_s": round(pct([t - wall0 for t in stamps], 0.95), 2),
        }
        print(
            f"  backlog: {seen} of {expected} delivered, the first {first:.2f} s and the last "
            f"{last:.2f} s after the worker started: {drain['per_s']} events/s "
            f"({drain['steady_per_s']}/s from the first to the last; the worker used "
            f"{drain['worker_cpu_ms_per_event']} ms of CPU per event); half were in by "
            f"{drain['p50_since_start_s']} s, 95% by {drain['p95_since_start_s']} s",
            flush=True,
        )
        print(
            f"  missing {drain['missing']}, duplicates {drain['duplicates']}, bad signatures "
            f"{drain['bad_signature']}, SSN in clear {drain['ssn_in_clear']}",
            flush=True,
        )

        # Live: posts at a steady rate while the worker runs; latency from createdAt.
        with receiver.lock:
            before = set(k for k in receiver.arrived if k[0] == path)
        conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=60)
        live_results: Counter[str] = Counter()
        gap = 1.0 / args.live_rate
        start = time.monotonic()
        for i in range(args.live):
            # Paced by the clock, not by sleeping a fixed gap after each answer.
            delay = start + i * gap - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            live_results[post_one(conn, token, f"live-{i}")] += 1
        conn.close()
        live_expected = expected + live_results.get("200 created", 0)
        live_seen, _ = wait_for(receiver, path, live_expected, args.stall)
        with receiver.lock:
            lat = [v for k, v in receiver.latency.items() if k[0] == path and k not in before]
        live = {
            "posts": args.live,
            "rate": args.live_rate,
            "results": dict(live_results),
            "delivered": live_seen - seen,
            "missing": live_expected - live_seen,
            "duplicates": receiver.duplicates[path] - drain["duplicates"],
            "p50_ms": round(1000 * pct(lat, 0.5), 1),
            "p95_ms": round(1000 * pct(lat, 0.95), 1),
            "max_ms": round(1000 * max(lat), 1) if lat else None,
            "mean_ms": round(1000 * statistics.fmean(lat), 1) if lat else None,
        }
        print(
            f"  live: {args.live} posts at {args.live_rate}/s ({dict(live_results)}) with the "
            f"worker running: {live['delivered']} delivered, latency from createdAt p50 "
            f"{live['p50_ms']} ms, p95 {live['p95_ms']} ms, max {live['max_ms']} ms; missing "
            f"{live['missing']}, duplicates {live['duplicates']}",
            flush=True,
        )
    after = states(service, [account])
    print(
        f"  deliveries afterwards: {after['by_state']}, most attempts of one "
        f"{after['most_attempts']}",
        flush=True,
    )
    return {"drain": drain, "live": live, "states": after, "t_end": t_end}


# --- 2. the lead endpoint with and without webhooks -------------------------------------------


def drain_queue(service: Service, accounts: list[int], timeout: float) -> str:
    """Wait until no webhook event or delivery of `accounts` is left to do; how long it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        now = states(service, accounts)
        if not now["undispatched"] and not now["by_state"].get("pending"):
            return f"queue empty after {time.monotonic() - started:.0f} s"
        time.sleep(2)
    return f"queue NOT empty after {timeout:.0f} s (running anyway): {now}"


def endpoint(service: Service, receiver: Receiver, args: argparse.Namespace) -> dict[str, Any]:
    plain, plain_token = new_account(service, "Bench No Webhooks", "plain")
    hooked, hooked_token = new_account(service, "Bench Two Webhooks", "hooked")
    for path in ("/crm", "/ams"):
        subscribe(service, receiver, hooked, path, ALL_EVENTS)
    work = Path(tempfile.mkdtemp(prefix="leadpost-webhooks-"))
    body_file = work / "lead.form"
    body_file.write_text(typical_template())
    arms = {"none": plain_token, "two": hooked_token}
    print(
        f"\n2. The lead endpoint, c{args.conc}, {args.duration} s per run, {args.rounds} rounds "
        f"alternating: an account without webhooks (none) and one with two (two; every event "
        f"type: a typical lead makes 2 events, 4 deliveries); "
        + (
            "one `leadpost worker` delivering throughout, the queue emptied before each run"
            if args.with_worker
            else "no worker running (events written and left waiting)"
        ),
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    worker = Worker(service) if args.with_worker else contextlib.nullcontext()
    try:
        with worker:
            if args.warmup:
                for name, token in arms.items():
                    wrk(service, "/leadpost/" + token, args.conc, args.warmup,
                        body_file=body_file, run=f"warmup-{name}")  # fmt: skip
            print(
                f"\n{'round':>5} {'arm':<5} {'leads/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
                f"{'errors':>6} {'server':>7} {'db':>6} {'other':>6}  queue",
                flush=True,
            )
            for r in range(args.rounds):
                # ABBA: drift over the runs (a warming cache, a growing table) falls on both arms.
                order = ["none", "two"] if r % 2 == 0 else ["two", "none"]
                for name in order:
                    queue = ""
                    if args.with_worker:
                        queue = drain_queue(service, [plain, hooked], args.drain_timeout)
                    s = summarise(
                        wrk(
                            service,
                            "/leadpost/" + arms[name],
                            args.conc,
                            args.duration,
                            body_file=body_file,
                            run=f"r{r}-{name}",
                        ),
                        lead=True,
                    )
                    rows.append({"round": r, "arm": name, **s})
                    print(
                        f"{r:>5} {name:<5} {s['per_s']:>8.0f} {s['p50_ms']:>8.1f} "
                        f"{s['p99_ms']:>8.1f} {s['errors']:>6} {s['server_cpu_pct']:>6.0f}% "
                        f"{s['database_cpu_pct']:>5.0f}% {s['other_cpu_pct']:>5.0f}%  {queue}",
                        flush=True,
                    )
                    time.sleep(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    none = [x["per_s"] for x in rows if x["arm"] == "none"]
    two = [x["per_s"] for x in rows if x["arm"] == "two"]
    ratios = [b["per_s"] / a["per_s"] for a, b in pairs(rows) if a["per_s"]]
    summary = {
        "none_median": statistics.median(none),
        "two_median": statistics.median(two),
        "ratio_of_medians": statistics.median(two) / statistics.median(none),
        "ratios_per_round": [round(x, 3) for x in ratios],
    }
    after = states(service, [hooked])
    delivered = after["by_state"].get("delivered", 0)
    print(
        f"\n  leads/s, median of {args.rounds}: none {summary['none_median']:.0f}, two webhooks "
        f"{summary['two_median']:.0f}: two / none = {100 * summary['ratio_of_medians']:.0f}% "
        f"(per round: {', '.join(f'{100 * x:.0f}%' for x in ratios)}); target: at least 90%",
        flush=True,
    )
    print(
        f"  the webhooked account: {after['events']} events, deliveries {after['by_state']} "
        f"({delivered} delivered so far; the receiver counted "
        f"{receiver.count('/crm') + receiver.count('/ams')} distinct, duplicates "
        f"{receiver.duplicates['/crm'] + receiver.duplicates['/ams']}, bad signatures "
        f"{receiver.bad_signature['/crm'] + receiver.bad_signature['/ams']}, SSN in clear "
        f"{receiver.ssn_in_clear['/crm'] + receiver.ssn_in_clear['/ams']})",
        flush=True,
    )
    return {"rows": rows, "summary": summary, "states": after}


def pairs(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(none, two) of each round."""
    out = []
    for r in sorted({x["round"] for x in rows}):
        arms = {x["arm"]: x for x in rows if x["round"] == r}
        if "none" in arms and "two" in arms:
            out.append((arms["none"], arms["two"]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="delivery,endpoint", help="default: both")
    parser.add_argument("--events", type=int, default=2000, help="posts in the backlog (2000)")
    parser.add_argument("--live", type=int, default=100, help="posts of the live phase (100)")
    parser.add_argument("--live-rate", type=float, default=5, help="their rate per s (5)")
    parser.add_argument("--stall", type=float, default=60, help="give up after s with no arrival")
    parser.add_argument("--conc", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each arm (3)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per arm (3)")
    parser.add_argument("--with-worker", action="store_true", help="a worker runs during part 2")
    parser.add_argument("--drain-timeout", type=float, default=600)
    parser.add_argument("--workers", type=int, default=0, help="web workers (default: cores)")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="a setting (repeatable)"
    )
    parser.add_argument("--bench-database", default="leadpost_bench")
    parser.add_argument("--quiet-wait", type=float, default=20, help="see intake_load.py")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the data folder and database")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if "endpoint" in parts and shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (Debian), or see bench/README.md")
    QUIET["max_wait"] = args.quiet_wait
    service = Service(
        database_url=os.environ.get("DATABASE_URL") or None,
        bench_database=args.bench_database,
        workers=args.workers,
        keep=args.keep,
        # No worker inside `serve`: this program starts the one it measures, when it wants it.
        command=(LEADPOST, "serve", "--no-worker"),
        extra_env={
            "LEADPOST_TESTING": "1",
            "LEADPOST_FETCH_ALLOW_LOOPBACK": "1",
            # The bench's agents have no e-mail address (their notification fails at once, in
            # both arms alike); nothing may try a real SMTP server.
            "LEADPOST_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            **dict(e.split("=", 1) for e in args.env),
        },
    )
    figures: dict[str, Any] = {"machine": machine(), "database": service.database}
    try:
        service.prepare([])
        print(f"Machine: {machine()}", flush=True)
        print(
            f"Server: leadpost serve --no-worker, {args.workers or os.cpu_count()} web workers"
            f"{' with ' + ' '.join(args.env) if args.env else ''}; {service.database}",
            flush=True,
        )
        if service.database_url:
            print(f"PostgreSQL: {postgres_settings(service.database_url)}", flush=True)
        with Receiver() as receiver, running(service):
            if "delivery" in parts:
                figures["delivery"] = delivery(service, receiver, args)
            if "endpoint" in parts:
                figures["endpoint"] = endpoint(service, receiver, args)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1))
    finally:
        service.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
