"""The cluster test and the cluster bench (deploy/cluster.py `test`, `bench`).

The test posts leads through haproxy as vendors do (TLS, keep-alive, base64 and URL attachments,
"Auto" routing), retrying a lost answer as a vendor does (same externalID), and mid-run kills one
app server and one worker with SIGKILL and starts them again. Then it checks what a vendor and an
agency would: every post got its 200; one record per externalID; the rotation exactly fair; every
attachment once in the object store with the right SHA-256, downloadable through the API; no
download stuck; every answered post in the post log; no token or SSN in any log; every record's
`record.created` and `record.assigned` webhook at the agency's receiver, signed, none lost, and
every record's agent e-mailed once. It prints the counts and exits non-zero on any failure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import signal
import socketserver
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from deploy.cluster import APP_SERVERS, BUCKET, ROOT, Cluster, say, unit_commands

AGENTS = ["Ann", "Ben", "Cat"]
CONCURRENCY = 16
SSN = "123-45-6789"

# Short enough that the test sees a killed worker's download started again within a minute;
# the defaults (README "Settings") are minutes. Loopback downloads are a test switch: the file
# server of this test is on 127.0.0.1.
TEST_SETTINGS = {
    "LEADPOST_TESTING": "1",
    "LEADPOST_FETCH_ALLOW_LOOPBACK": "1",
    "LEADPOST_FETCH_TIMEOUT": "10",
    "LEADPOST_FETCH_BACKOFF_SECONDS": "1",
    "LEADPOST_ATTACHMENT_LEASE_SECONDS": "15",
    "LEADPOST_SWEEP_INTERVAL": "2",
    "LEADPOST_SWEEP_GRACE_SECONDS": "10",
    "LEADPOST_WEBHOOK_TIMEOUT": "5",
    "LEADPOST_WEBHOOK_LEASE_SECONDS": "15",
}


def file_content(i: int, kind: str) -> bytes:
    """Post i's file, different for every post, 2-40 KB, the same every time it is asked for."""
    seed = hashlib.sha256(f"{kind}-{i}".encode()).digest()
    size = 2048 + (i * 7919) % 38_000
    return (seed * (size // len(seed) + 1))[:size]


class FileServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    hits: Counter[str]


class FileHandler(http.server.BaseHTTPRequestHandler):
    """A vendor's file host: /f/<i>.pdf is post i's file."""

    server: FileServer

    def do_GET(self) -> None:
        match = re.fullmatch(r"/f/(\d+)\.pdf", self.path)
        if not match:
            self.send_error(404)
            return
        self.server.hits[self.path] += 1
        body = file_content(int(match.group(1)), "url")
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class WebhookReceiver(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """The agency's CRM: checks each webhook's signature with its own HMAC code and keeps the
    events it was sent, by id (a redelivery of one event is the same id)."""

    daemon_threads = True
    secret = ""
    lock = threading.Lock()
    events: dict[str, dict[str, Any]]
    deliveries = 0
    bad_signatures = 0
    ssn_seen = 0


class WebhookHandler(http.server.BaseHTTPRequestHandler):
    server: WebhookReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fields = dict(
            p.split("=", 1)
            for p in self.headers.get("Leadpost-Signature", "").split(",")
            if "=" in p
        )
        expected = hmac.new(
            self.server.secret.encode(), fields.get("t", "").encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        fresh = fields.get("t", "").isdigit() and abs(time.time() - int(fields["t"])) < 300
        ok = fresh and hmac.compare_digest(expected, fields.get("v1", ""))
        with self.server.lock:
            self.server.deliveries += 1
            if not ok:
                self.server.bad_signatures += 1
            else:
                event = json.loads(body)
                self.server.events[event["id"]] = event
                if SSN.encode() in body or SSN.replace("-", "").encode() in body:
                    self.server.ssn_seen += 1
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Post:
    i: int
    kind: str  # "none", "base64", "url"
    attempts: int = 0
    statuses: list[int | str] = field(default_factory=list)
    post_ids: list[tuple[int, int]] = field(default_factory=list)  # (X-Lead-Post-Id, status)
    answer: dict[str, Any] | None = None

    @property
    def external_id(self) -> str:
        return f"cluster-{self.i}"

    def form(self, files_at: str) -> dict[str, str]:
        data = {
            "firstName": f"Lead{self.i}",
            "lastName": "Cluster",
            "servicingAgentFirstName": "Auto",
            "stateAbbrev": "IA",
            "zip": "50309",
            "externalID": self.external_id,
            "attachment_note_1_subject_text": "Application",
            "attachment_note_1_body_text": f"Called back about policy {self.i}",
        }
        if self.i % 5 == 0:
            data["ssn"] = SSN
        if self.kind != "none":
            data["attach_file_to_note_1"] = "1"
            data["attachment_note_1_file_name_1"] = f"application-{self.i}.pdf"
        if self.kind == "base64":
            data["attachment_note_1_file_body_1"] = base64.b64encode(
                file_content(self.i, "base64")
            ).decode()
        elif self.kind == "url":
            data["attachment_note_1_file_url_1"] = f"{files_at}/f/{self.i}.pdf"
        return data


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def check(self, ok: bool, what: str, detail: str = "") -> None:
        print(f"  {'PASS' if ok else 'FAIL'}  {what}{f' ({detail})' if detail else ''}", flush=True)
        if not ok:
            self.failed.append(what)


def setup_django(cluster: Cluster) -> None:
    os.environ.update(cluster.leadpost_env())
    os.environ["DJANGO_SETTINGS_MODULE"] = "leadpost.settings"
    import django

    django.setup()


def seed(cluster: Cluster, webhook_url: str) -> tuple[int, str, str, str]:
    """A premium Sales Record account whose "Auto" leads rotate among three agents, with a
    webhook to the agency's receiver; its URL, an API token and the webhook's secret. Made with
    the models and actions the staff pages use."""
    from leadpost.accounts.models import Account, ApiToken, User
    from leadpost.intake.models import LeadPostUrl
    from leadpost.lib.choices import RecordType
    from leadpost.routing.models import AgentProfile, PoolMember, RoutingRule
    from leadpost.webhooks.models import WebhookSubscription
    from leadpost.webhooks.secrets import set_new_secret

    account = Account.objects.create(
        name="Cluster Test Agency",
        time_zone="America/Chicago",
        record_mode=RecordType.SALES_RECORD,
        premium_workflows=True,
    )
    rule = RoutingRule.objects.create(account=account, name="Iowa", states=["IA"])
    for order, name in enumerate(AGENTS):
        user = User.objects.create(
            account=account,
            username=f"{name.lower()}-cluster",
            first_name=name,
            last_name="Agent",
            email=f"{name.lower()}@agency.example",
        )
        AgentProfile.objects.create(user=user, licensed_states=["IA"])
        PoolMember.objects.create(rule=rule, agent=user, order=order)
    _, token = LeadPostUrl.issue(account, "Datalot")
    _, api_token = ApiToken.issue(account, "cluster test")
    webhook = WebhookSubscription(
        account=account, url=webhook_url, events=["record.created", "record.assigned"]
    )
    secret = set_new_secret(webhook)
    webhook.save()
    return account.pk, token, api_token, secret


def haproxy_ups(cluster: Cluster, server: str) -> int:
    """How many times haproxy has logged `server` coming back up."""
    log = (cluster.logs / "haproxy.log").read_text(errors="replace")
    return log.count(f"Server app_servers/{server} is UP,")


def wait_until_up_again(cluster: Cluster, server: str, ups_before: int) -> None:
    """Until haproxy's own checks have put `server` back in rotation (rise 2: about 2 s)."""
    deadline = time.monotonic() + 30
    while haproxy_ups(cluster, server) == ups_before:
        if time.monotonic() > deadline:
            raise SystemExit(f"cluster: haproxy did not put {server} back within 30 s")
        time.sleep(0.1)


def send_all(
    cluster: Cluster, posts: list[Post], url: str, files_at: str, chaos: Any, gate: threading.Event
) -> float:
    """Post every lead, CONCURRENCY at a time, each until it is answered 200 (a vendor's retry)."""
    import httpx

    local = threading.local()
    done = [0]
    lock = threading.Lock()

    def send(post: Post) -> None:
        if post.i >= len(posts) * 3 // 4:
            gate.wait()  # the last quarter goes to the cluster after its restart
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(verify=str(cluster.ca_file), timeout=60)
        form = post.form(files_at)
        while post.attempts < 60:
            post.attempts += 1
            try:
                reply = client.post(url, data=form)
            except httpx.HTTPError as exc:
                post.statuses.append(type(exc).__name__)
                time.sleep(0.2)
                continue
            post.statuses.append(reply.status_code)
            if "X-Lead-Post-Id" in reply.headers:
                post.post_ids.append((int(reply.headers["X-Lead-Post-Id"]), reply.status_code))
            if reply.status_code == 200:
                post.answer = reply.json()
                break
            time.sleep(0.2)
        with lock:
            done[0] += 1
            if done[0] == len(posts) // 4:
                threading.Thread(target=chaos, daemon=True).start()

    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(send, posts))
    return time.monotonic() - started


def run(cluster: Cluster, posts: int, keep: bool) -> int:
    if cluster.running():
        raise SystemExit(
            f"cluster: a cluster is up in {cluster.root}; `python3 dev.py cluster down` first, or "
            "give the test its own --dir and --port-base"
        )
    shutil.rmtree(cluster.root, ignore_errors=True)
    cluster.extra_settings = dict(TEST_SETTINGS)
    files = FileServer(("127.0.0.1", cluster.ports.base + 50), FileHandler)
    files.hits = Counter()
    threading.Thread(target=files.serve_forever, daemon=True).start()
    files_at = f"http://127.0.0.1:{cluster.ports.base + 50}"
    crm = WebhookReceiver(("127.0.0.1", cluster.ports.base + 51), WebhookHandler)
    crm.events = {}
    threading.Thread(target=crm.serve_forever, daemon=True).start()
    checks = Checks()
    try:
        cluster.up()
        setup_django(cluster)
        account_id, token, api_token, crm.secret = seed(
            cluster, f"http://127.0.0.1:{cluster.ports.base + 51}/hooks/leadpost"
        )
        url = f"{cluster.lb_url}/leadpost/{token}"
        leads = [Post(i, ("none", "base64", "url")[i % 3]) for i in range(posts)]
        gate = threading.Event()
        chaos_log: list[str] = []

        def chaos() -> None:
            try:
                ups_before = haproxy_ups(cluster, "app2")
                for name in ("app2", "worker1"):
                    cluster.kill(name, signal.SIGKILL)
                    chaos_log.append(f"SIGKILL {name}")
                time.sleep(1)  # the units' RestartSec=1
                cluster.app_up(2)
                cluster.worker_up(1)
                cluster.wait_app(2)
                wait_until_up_again(cluster, "app2", ups_before)
                chaos_log.append("app2 and worker1 started again, app2 back in haproxy")
            finally:
                gate.set()

        say(
            f"posting {posts} leads through haproxy, {CONCURRENCY} at a time; after a quarter, "
            "SIGKILL app2 and worker1, start them again"
        )
        seconds = send_all(cluster, leads, url, files_at, chaos, gate)
        say(f"posted in {seconds:.1f} s ({posts / seconds:.0f} leads/s); " + "; ".join(chaos_log))
        stuck = wait_for_downloads(account_id, timeout=120)
        verify(cluster, checks, leads, account_id, token, api_token, files, stuck)
        verify_delivered(checks, account_id, crm)
        check_readiness(cluster, checks, url)
    finally:
        files.shutdown()
        crm.shutdown()
        if keep:
            say(
                f"left running (--keep); stop with: python3 dev.py cluster down --dir {cluster.root}"
            )
        else:
            cluster.down()
    if checks.failed:
        print(f"\ncluster test: FAILED ({len(checks.failed)}): {'; '.join(checks.failed)}")
        return 1
    print("\ncluster test: passed")
    return 0


def verify_delivered(checks: Checks, account_id: int, crm: WebhookReceiver) -> None:
    """Every record's webhooks at the receiver, and its agent e-mailed once, once the workers
    (one of them killed mid-run) have drained their queues."""
    from django.db import close_old_connections

    from leadpost.records.models import Record
    from leadpost.routing.models import AgentNotification, NotificationState
    from leadpost.webhooks.models import DeliveryState, WebhookDelivery, WebhookEvent

    started = time.monotonic()
    deadline = started + 180
    while True:
        close_old_connections()
        waiting = (
            WebhookEvent.objects.filter(account_id=account_id, dispatched=False).count()
            + WebhookDelivery.objects.filter(
                event__account_id=account_id, state=DeliveryState.PENDING
            ).count()
            + AgentNotification.objects.filter(
                record__account_id=account_id, state=NotificationState.PENDING
            ).count()
        )
        if waiting == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    records = dict(
        Record.objects.filter(account_id=account_id).values_list("pk", "servicing_agent_id")
    )
    with crm.lock:
        got = Counter((e["type"], e["data"]["id"]) for e in crm.events.values())
        agents = {
            e["data"]["id"]: (e["data"]["servicingAgent"] or {}).get("id")
            for e in crm.events.values()
            if e["type"] == "record.assigned"
        }
        deliveries, bad, ssn = crm.deliveries, crm.bad_signatures, crm.ssn_seen
    # record.assigned only for a record with an agent (the X-Forwarded-For check's has none).
    missing = [
        (kind, pk)
        for pk, agent in records.items()
        for kind in ("record.created", "record.assigned")
        if got[(kind, pk)] != (1 if kind == "record.created" or agent else 0)
    ]
    checks.check(
        waiting == 0 and not missing,
        "every record's record.created and record.assigned reached the agency's receiver once "
        "by event id (a worker killed mid-run)",
        f"{len(records)} records, {len(crm.events)} events by {deliveries} deliveries; "
        f"still waiting {waiting} after {time.monotonic() - started:.0f} s more, "
        f"missing {len(missing)}",
    )
    checks.check(
        agents == {pk: agent for pk, agent in records.items() if agent},
        "each record.assigned names the record's agent",
    )
    checks.check(
        bad == 0 and ssn == 0,
        "every webhook signed, none holds the SSN in clear",
        f"bad {bad}, SSN {ssn}",
    )
    mailed = Counter(
        AgentNotification.objects.filter(
            record__account_id=account_id, state=NotificationState.SENT
        ).values_list("record_id", flat=True)
    )
    assigned = {pk for pk, agent in records.items() if agent}
    checks.check(
        set(mailed) == assigned and set(mailed.values()) == {1},
        "every record's agent e-mailed, once",
        f"{len(mailed)} of {len(assigned)}",
    )


def wait_for_downloads(account_id: int, timeout: float) -> int:
    """Wait until no download of the account is pending or running; return how many still are."""
    from django.db import close_old_connections

    from leadpost.records.models import Attachment, AttachmentState

    open_states = [
        s
        for s in AttachmentState.values
        if s not in {AttachmentState.STORED, AttachmentState.FAILED}
    ]
    deadline = time.monotonic() + timeout
    while True:
        close_old_connections()
        left = Attachment.objects.filter(
            note__record__account_id=account_id, state__in=open_states
        ).count()
        if left == 0 or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def verify(
    cluster: Cluster,
    checks: Checks,
    leads: list[Post],
    account_id: int,
    token: str,
    api_token: str,
    files: FileServer,
    stuck: int,
) -> None:
    import httpx
    from django.db.models import Count

    from leadpost.intake.models import PostLog
    from leadpost.records.models import Attachment, AttachmentState, Record

    attempts = sum(p.attempts for p in leads)
    seen = Counter(s for p in leads for s in p.statuses)
    print(
        f"\n  {len(leads)} posts, {attempts} attempts; answers and errors seen: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(seen.items(), key=str))
    )

    unanswered = [p.external_id for p in leads if p.answer is None]
    checks.check(
        not unanswered,
        "every post answered 200 (a vendor's retries included)",
        f"lost: {len(unanswered)}",
    )
    results = Counter(p.answer["result"] for p in leads if p.answer)
    print(f"  results: {dict(results)}")

    records = Record.objects.filter(account_id=account_id)
    by_external = dict(records.values_list("external_id", "id"))
    duplicated = records.values("external_id").annotate(n=Count("id")).filter(n__gt=1).count()
    checks.check(
        records.count() == len(leads) and duplicated == 0,
        "one record per externalID",
        f"records {records.count()}, duplicated {duplicated}",
    )
    wrong = [
        p.external_id
        for p in leads
        if p.answer and p.answer.get("recordId") != by_external.get(p.external_id)
    ]
    checks.check(not wrong, "every 200 names its externalID's record", f"wrong: {len(wrong)}")

    agents = Counter(records.values_list("servicing_agent__first_name", flat=True))
    fair = set(agents) == set(AGENTS) and max(agents.values()) - min(agents.values()) <= 1
    checks.check(fair, "Auto routing exactly fair", json.dumps(dict(agents)))
    answered_agent = {
        p.external_id: (p.answer.get("servicingAgent") or {}).get("firstName")
        for p in leads
        if p.answer and p.answer["result"] == "created"
    }
    stored_agent = dict(records.values_list("external_id", "servicing_agent__first_name"))
    checks.check(
        all(stored_agent[e] == a for e, a in answered_agent.items()),
        "each `created` answer names the agent stored",
    )

    lb_log = (cluster.logs / "haproxy.log").read_text()
    per_server = Counter(re.findall(r" app_servers/(app\d) \S+ 200 ", lb_log))
    checks.check(
        len(per_server) == APP_SERVERS,
        "posts answered by every app server",
        json.dumps(dict(sorted(per_server.items()))),
    )

    metrics_ok, scraped = True, {}
    for n in range(1, APP_SERVERS + 1):
        text = httpx.get(f"http://127.0.0.1:{cluster.ports.metrics(n)}/metrics", timeout=10).text
        created = sum(
            float(value)
            for value in re.findall(
                r'^leadpost_lead_posts_total\{[^}]*result="created"[^}]*\} (\S+)$', text, re.M
            )
        )
        scraped[f"app{n}"] = int(created)
        metrics_ok &= token[:7] not in text
    # app2 counts from its restart (a new process, new counters), the others from the start.
    after_restart = lb_log.rsplit("Server app_servers/app2 is UP,", 1)[-1]
    app2_since = len(re.findall(r" app_servers/app2 \S+ 200 ", after_restart))
    metrics_ok &= all(scraped[a] == per_server[a] for a in ("app1", "app3"))
    metrics_ok &= 0 < scraped["app2"] == app2_since
    from_outside = httpx.get(f"{cluster.lb_url}/metrics", verify=str(cluster.ca_file)).status_code
    checks.check(
        metrics_ok and from_outside == 404,
        "each app server's metrics count the posts haproxy gave it; none through haproxy",
        f"created by metrics {json.dumps(scraped)} (app2 since its restart: {app2_since} by "
        f"haproxy's log), /metrics through haproxy {from_outside}",
    )

    with_files = [p for p in leads if p.kind != "none"]
    attachments = list(
        Attachment.objects.filter(note__record__account_id=account_id).select_related(
            "note__record"
        )
    )
    states = Counter(a.state for a in attachments)
    checks.check(
        len(attachments) == len(with_files),
        "one attachment per post with a file",
        f"{len(attachments)} of {len(with_files)}",
    )
    checks.check(
        stuck == 0 and states.get(AttachmentState.STORED, 0) == len(attachments),
        "no download stuck or failed",
        json.dumps(dict(states)),
    )
    expected = {
        p.external_id: hashlib.sha256(file_content(p.i, p.kind)).hexdigest() for p in with_files
    }
    s3 = cluster.s3_client()
    objects: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        objects.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
    prefix = cluster.settings().get("LEADPOST_S3_PREFIX", "").strip("/")

    def s3_key(name: str) -> str:  # django-storages puts LEADPOST_S3_PREFIX in front
        return f"{prefix}/{name}" if prefix else name

    bad_hash, missing, twice = [], [], []
    for a in attachments:
        key = s3_key(a.file.name)
        folder = key.rsplit("/", 1)[0] + "/"
        if sum(1 for k in objects if k.startswith(folder)) != 1:
            twice.append(a.pk)
        if key not in objects:
            missing.append(a.pk)
            continue
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        if not (
            hashlib.sha256(body).hexdigest() == a.sha256 == expected[a.note.record.external_id]
        ):
            bad_hash.append(a.pk)
    checks.check(
        not missing and not bad_hash and not twice,
        "every attachment once in the S3 store, with the SHA-256 of what was sent",
        f"objects {len(objects)}, missing {len(missing)}, wrong SHA-256 {len(bad_hash)}, "
        f"more than one {len(twice)}",
    )
    referenced = {s3_key(a.file.name) for a in attachments}
    orphans = [k for k in objects if k not in referenced]
    print(
        f"  objects without an attachment (a post killed between storing its file and its "
        f"commit): {len(orphans)}"
    )
    for command in unit_commands("leadpost-purge.service"):  # the daily timer's job, as it runs
        cluster.run_unit_command(command)
    # Minutes old, so the timer's run keeps them (a post in flight may own such a file); the
    # dry run names exactly them.
    looked = json.loads(
        cluster.leadpost("purge-orphan-files", "--hours", "0", "--dry-run", "--json")
    )
    left: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        left.update(o["Key"] for o in page.get("Contents", []))
    checks.check(
        looked["wouldDelete"] == len(orphans) and left == referenced | set(orphans),
        "`leadpost purge-orphan-files` finds exactly those in S3, and keeps every attachment",
        f"would delete {looked['wouldDelete']}, {len(left)} objects for {len(referenced)} "
        "attachments",
    )
    refetched = sum(1 for n in files.hits.values() if n > 1)
    print(
        f"  URL files downloaded more than once (a killed worker's download started again): "
        f"{refetched} of {len(files.hits)}"
    )

    answered_ids = {(pid, status) for p in leads for pid, status in p.post_ids}
    logged = dict(
        PostLog.objects.filter(pk__in=[pid for pid, _ in answered_ids]).values_list(
            "id", "status_code"
        )
    )
    unlogged = [pid for pid, status in answered_ids if logged.get(pid) != status]
    checks.check(
        not unlogged,
        "every answered post is in the post log with its status",
        f"{len(answered_ids)} answers, {len(unlogged)} missing",
    )

    api = httpx.Client(
        base_url=cluster.lb_url,
        verify=str(cluster.ca_file),
        timeout=30,
        headers={"Authorization": f"Bearer {api_token}"},
    )
    listed, cursor, sample = 0, "", []
    while True:
        page = api.get("/api/v1/records", params={"after": cursor, "limit": 500}).json()
        listed += len(page["records"])
        for record in page["records"]:
            for note in record.get("notes", []):
                sample.extend((record["externalID"], f) for f in note.get("attachments", []))
        cursor = page["nextCursor"]
        if not page["hasMore"]:
            break
    checks.check(listed == len(leads), "the read API lists every record", f"{listed}")
    downloads_ok = 0
    for external_id, attachment in sample[:30]:
        reply = api.get(attachment["contentUrl"])
        if (
            reply.status_code == 200
            and hashlib.sha256(reply.content).hexdigest() == expected[external_id]
        ):
            downloads_ok += 1
    checks.check(
        bool(sample) and downloads_ok == len(sample[:30]),
        "attachments download through the API (through haproxy, from S3)",
        f"{downloads_ok} of {len(sample[:30])}",
    )

    leaked = []
    for log in sorted(cluster.logs.glob("*.log")):
        text = log.read_text(errors="replace")
        if token in text or token[:7] in text or SSN in text or api_token[:7] in text:
            leaked.append(log.name)
    checks.check(
        not leaked,
        "no Lead Post URL token, API token or SSN in any log",
        ", ".join(leaked) or f"{len(list(cluster.logs.glob('*.log')))} logs read",
    )
    # What a client sends as X-Forwarded-For cannot choose the address the post log shows.
    with httpx.Client(verify=str(cluster.ca_file), timeout=30) as client:
        reply = client.post(
            f"{cluster.lb_url}/leadpost/{token}",
            data={"firstName": "Spoof", "lastName": "Check", "externalID": "spoof-1"},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
    logged_ip = (
        PostLog.objects.filter(pk=int(reply.headers.get("X-Lead-Post-Id", 0)))
        .values_list("client_ip", flat=True)
        .first()
    )
    checks.check(
        reply.status_code == 200 and logged_ip == "127.0.0.1",
        "a client's own X-Forwarded-For does not choose the address the post log shows",
        f"{reply.status_code}, logged {logged_ip}",
    )

    print(f"\n  lost {len(unanswered)}, duplicated {duplicated}, stuck {stuck}")


def check_readiness(cluster: Cluster, checks: Checks, url: str) -> None:
    """PostgreSQL stopped: every app server unready, and a vendor told to retry; started again:
    ready, and the next post stored."""
    import httpx

    from deploy.cluster import http_status

    def readyz() -> list[int | None]:
        return [
            http_status(f"http://127.0.0.1:{cluster.ports.app(n)}/readyz")
            for n in range(1, APP_SERVERS + 1)
        ]

    def wait(expected: int, timeout: float = 30) -> list[int | None]:
        deadline = time.monotonic() + timeout
        while (seen := readyz()) != [expected] * APP_SERVERS and time.monotonic() < deadline:
            time.sleep(0.2)
        return seen

    say("stopping PostgreSQL")
    cluster.postgres_down()
    seen = wait(503)
    checks.check(
        seen == [503] * APP_SERVERS, "with PostgreSQL stopped, every /readyz is 503", f"{seen}"
    )
    time.sleep(2.5)  # haproxy's checks: inter 1s, fall 2
    with httpx.Client(verify=str(cluster.ca_file), timeout=30) as client:
        reply = client.post(
            url, data={"firstName": "Ready", "lastName": "Check", "externalID": "readiness-1"}
        )
        body = reply.json() if reply.headers.get("content-type") == "application/json" else {}
        checks.check(
            reply.status_code == 503
            and "Retry-After" in reply.headers
            and body.get("result") == "error",
            "... and a post through haproxy gets a JSON 503 with Retry-After",
            f"{reply.status_code} {body.get('errors', [{}])[0].get('code')}",
        )
        say("starting PostgreSQL again")
        cluster.postgres_up()
        seen = wait(200)
        time.sleep(2.5)  # haproxy's checks: rise 2
        reply = client.post(
            url, data={"firstName": "Ready", "lastName": "Check", "externalID": "readiness-1"}
        )
        checks.check(
            seen == [200] * APP_SERVERS and reply.status_code == 200,
            "PostgreSQL back: every /readyz is 200 and the next post is stored",
            f"{seen}, post {reply.status_code}",
        )


def bench(cluster: Cluster, duration: int, keep: bool) -> int:
    """Leads/s through haproxy with 3 app servers, then 1, then straight to that one (no hop)."""
    sys.path.insert(0, str(ROOT))
    from bench.leads import typical_template
    from bench.service import machine, wait_for_quiet

    if cluster.running():
        raise SystemExit(
            "cluster: bench starts its own cluster; `python3 dev.py cluster down` first"
        )
    if not shutil.which("wrk"):
        from deploy.cluster import apt_install

        apt_install(["wrk"])
    shutil.rmtree(cluster.root, ignore_errors=True)
    rows = []
    try:
        cluster.up()
        # The typical post of bench/intake_load.py, to an Individual account made as an operator
        # makes one (the routing test's account would add its rotation lock to every post).
        issued = cluster.new_account_and_url("Bench Agency", "Bench")
        token = issued["leadPostUrl"]["token"]
        body = cluster.root / "lead.form"
        body.write_text(typical_template())
        print(f"  machine: {machine()}")

        def load(base: str, label: str, connections: int, *, warmup: bool = False) -> None:
            busy = wait_for_quiet(30)
            env = {
                **os.environ,
                "BENCH_PATH": f"/leadpost/{token}",
                # Unique per run: the externalIDs are BENCH_RUN plus a counter, and a repeated
                # one would be answered `duplicate` (a cheaper path) instead of stored.
                "BENCH_RUN": f"{label}-c{connections}".replace(" ", "-").replace(",", "")
                + ("-warmup" if warmup else ""),
                "BENCH_BODY_FILE": str(body),
            }
            out = subprocess.run(
                [
                    "wrk",
                    "-t1",
                    f"-c{connections}",
                    f"-d{3 if warmup else duration}s",
                    "--timeout",
                    "30s",
                    "-s",
                    str(ROOT / "bench" / "intake_load.lua"),
                    base + f"/leadpost/{token}",
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH-JSON ")), None)
            if line is None:
                raise SystemExit(f"cluster: wrk failed: {out.stderr or out.stdout}")
            if warmup:  # every process's first posts: imports, connections, the account's cache
                return
            figures = json.loads(line[len("BENCH-JSON ") :])
            seconds = figures["duration_us"] / 1e6
            ok = figures["statuses"].get("200", 0)
            created = figures["results"].get("created", 0)
            lat = figures["latency_us"]
            # A 200 that is not `created` (a duplicate) counts as an error here: leads/s is stored leads.
            errors = (ok - created) + sum(v for k, v in figures["statuses"].items() if k != "200")
            errors += sum(v for k, v in figures["errors"].items() if k != "status")
            rows.append(
                f"  {label:<34} c{connections:<3} {created / seconds:>8.0f} {lat['p50'] / 1000:>8.1f} "
                f"{lat['p99'] / 1000:>8.1f} {errors:>6}   {busy:>4.0f}%"
            )
            print(rows[-1], flush=True)

        print(
            f"  {'':<34} {'conn':<4} {'leads/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}   busy before"
        )
        load(cluster.lb_url, "haproxy, 3 app servers", 16, warmup=True)
        load(cluster.lb_url, "haproxy, 3 app servers", 16)
        load(cluster.lb_url, "haproxy, 3 app servers", 64)
        for n in range(2, APP_SERVERS + 1):
            cluster.kill(f"app{n}")
        time.sleep(3)  # haproxy's checks (inter 1s, fall 2) take them out
        load(cluster.lb_url, "haproxy, 1 app server", 16)
        load(cluster.lb_url, "haproxy, 1 app server", 64)
        load(f"http://127.0.0.1:{cluster.ports.app(1)}", "1 app server, no haproxy", 16)
        load(f"http://127.0.0.1:{cluster.ports.app(1)}", "1 app server, no haproxy", 64)
    finally:
        if not keep:
            cluster.down()
            shutil.rmtree(cluster.root, ignore_errors=True)
    return 0
