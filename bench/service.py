"""A throwaway Leadpost instance for the benchmarks: its own data folder, secrets and database.

Started the way production starts it (`leadpost serve`, one worker per core, access log on), on a
free port of 127.0.0.1. The only difference from production is `DJANGO_SETTINGS_MODULE =
bench.ping_settings`: the real settings plus one URL, `/bench/ping`, a trivial Django view that
measures the framework's ceiling in the same server (see ping_settings.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LEADPOST = str(VENV_BIN / "leadpost")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def bench_database_url(server_url: str, name: str) -> str:
    """DATABASE_URL's server with database `name`, dropped and created afresh (PostgreSQL only)."""
    import psycopg  # a dependency of the project

    parts = urlsplit(server_url)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path="/" + name))


def drop_bench_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Service:
    """One Leadpost instance: configure, migrate, seed, serve, query, stop."""

    database_url: str | None = None  # PostgreSQL server to create the bench database on
    bench_database: str = "leadpost_bench"
    workers: int = 0  # 0: `leadpost serve`'s default, one per core
    engine: str | None = None  # overrides DATABASES["default"]["ENGINE"] (bench.ping_settings)
    access_log: bool = True  # False: gunicorn started directly, `serve`'s arguments minus the log
    threads: int = 1  # >1: gunicorn started directly with --threads (a threaded server)
    db_options: dict[str, Any] = field(default_factory=dict)  # added to DATABASES OPTIONS
    db_settings: dict[str, Any] = field(default_factory=dict)  # set in DATABASES["default"]
    extra_env: dict[str, str] = field(default_factory=dict)
    keep: bool = False
    # The source tree to run (another checkout, to compare code before and after a change).
    root: Path = ROOT
    # A server command line to run instead of `leadpost serve` (another HTTP server), each part
    # formatted with {python}, {bin} (the venv's bin/), {port} and {workers}. Empty: as above.
    command: tuple[str, ...] = ()

    data_dir: Path = field(init=False)
    port: int = field(init=False)
    env: dict[str, str] = field(init=False)
    process: subprocess.Popen[bytes] | None = field(init=False, default=None)
    account_id: int = field(init=False, default=0)
    agents: list[dict[str, Any]] = field(init=False, default_factory=list)
    _server_log: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="leadpost-bench-"))
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADPOST_")}
        env.pop("DATABASE_URL", None)
        env.update(
            {
                "LEADPOST_DATA_DIR": str(self.data_dir),
                "LEADPOST_SECRET_KEY": secrets.token_urlsafe(50),
                "LEADPOST_SSN_KEYS": Fernet.generate_key().decode(),
                "LEADPOST_SSN_INDEX_KEY": secrets.token_urlsafe(32),
                "LEADPOST_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "LEADPOST_BIND": f"127.0.0.1:{self.port}",
                "LEADPOST_BASE_URL": f"http://127.0.0.1:{self.port}",
                "DJANGO_SETTINGS_MODULE": "bench.ping_settings",
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(self.root), env.get("PYTHONPATH")])
                ),
            }
        )
        if self.workers:
            env["LEADPOST_WORKERS"] = str(self.workers)
        if self.engine:
            env["BENCH_DB_ENGINE"] = self.engine
        if self.db_options:
            env["BENCH_DB_OPTIONS"] = json.dumps(self.db_options)
        if self.db_settings:
            env["BENCH_DB_SETTINGS"] = json.dumps(self.db_settings)
        if self.database_url:
            env["DATABASE_URL"] = bench_database_url(self.database_url, self.bench_database)
        env.update(self.extra_env)
        self.env = env

    @property
    def database(self) -> str:
        return "PostgreSQL" if self.database_url else "SQLite"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # Operators' commands -------------------------------------------------------------------

    def leadpost(self, *args: str) -> Any:
        """Run `leadpost ARGS --json` against this instance; the parsed JSON it prints."""
        out = subprocess.run(
            [LEADPOST, *args],
            env=self.env,
            cwd=self.root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1]) if out.strip() else None

    def prepare(self, url_labels: list[str]) -> dict[str, str]:
        """Migrate, create an account with two agents, issue one URL per label: {label: token}."""
        subprocess.run(
            [LEADPOST, "migrate", "--no-input", "-v0"], env=self.env, cwd=self.root, check=True
        )
        account = self.leadpost("create-account", "Bench Agency", "--json")["account"]
        self.account_id = account["id"]
        for first, last in (("Ann", "Agent"), ("Bob", "Broker")):
            user = self.leadpost(
                "create-user",
                "--account",
                str(self.account_id),
                "--first-name",
                first,
                "--last-name",
                last,
                "--json",
            )["user"]
            self.agents.append(user)
        tokens = {}
        for label in url_labels:
            issued = self.leadpost(
                "issue-url", "--account", str(self.account_id), "--label", label, "--json"
            )
            tokens[label] = issued["leadPostUrl"]["token"]
        return tokens

    def query(self, code: str) -> Any:
        """Run Python with Django set up against this instance's database; `result` as JSON."""
        program = (
            "import django, json\ndjango.setup()\n"
            + code
            + "\nprint('BENCH-RESULT ' + json.dumps(result))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", program],
            env=self.env,
            cwd=self.root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        line = next(x for x in out.splitlines() if x.startswith("BENCH-RESULT "))
        return json.loads(line[len("BENCH-RESULT ") :])

    # The server -----------------------------------------------------------------------------

    def issue_api_token(self) -> str:
        """A read-API token for the account `prepare` made (`leadpost issue-api-token`)."""
        issued = self.leadpost("issue-api-token", "--account", str(self.account_id), "--json")
        token: str = issued["apiToken"]["token"]
        return token

    def server_argv(self) -> list[str]:
        if self.command:
            values = {
                "python": sys.executable,
                "bin": str(VENV_BIN),
                "port": str(self.port),
                "workers": str(self.workers or os.cpu_count() or 1),
            }
            return [part.format(**values) for part in self.command]
        if self.access_log and self.threads <= 1:
            return [LEADPOST, "serve"]
        # `leadpost serve`'s gunicorn line, changed as asked (no access log; threads), without
        # the background worker (a typical post gives it nothing to do).
        workers = self.workers or os.cpu_count() or 1
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "leadpost.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--timeout",
            "120",
        ]
        if self.threads > 1:
            argv += ["--threads", str(self.threads)]  # gunicorn's gthread worker
        if self.access_log:
            argv += [
                "--access-logfile",
                "-",
                "--logger-class",
                "bench.gunicorn_logger.RedactingLogger",
                "--access-logformat",
                '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms "%(a)s"',
            ]
        return argv

    def start(self, timeout: float = 60) -> None:
        self._server_log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.server_argv(),
            env=self.env,
            cwd=self.root,
            stdout=self._server_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one, by its id
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited; see {self.data_dir / 'server.log'}")
            try:
                with urllib.request.urlopen(self.base + "/bench/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not answer /bench/ping in time")
        # Every worker has booted once each answers; give the slowest a moment to import.
        time.sleep(1.0)

    def process_tree(self) -> list[str]:
        """The command lines of the server and its descendants, as running now (what it ran)."""
        assert self.process is not None
        return [_cmdline(p).strip() for p in [self.process.pid, *_descendants(self.process.pid)]]

    def web_worker_pids(self) -> list[int]:
        """The HTTP server's worker processes: children of its master (granian's
        `leadpost.server`, or gunicorn for the gunicorn variants)."""
        assert self.process is not None
        servers = {
            p
            for p in [self.process.pid, *_descendants(self.process.pid)]
            if "gunicorn" in _cmdline(p) or "leadpost.server" in _cmdline(p)
        }
        masters = {p for p in servers if _ppid(p) not in servers}
        return sorted(p for p in servers if _ppid(p) in masters)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        if self._server_log is not None:
            self._server_log.close()
            self._server_log = None

    def cleanup(self) -> None:
        self.stop()
        if self.keep:
            print(f"kept: {self.data_dir}", file=sys.stderr)
            return
        if self.database_url:
            with contextlib.suppress(Exception):
                drop_bench_database(self.database_url, self.bench_database)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def tree_state(root: Path) -> str:
    """Which code a run serves: a snapshot's commit, or the working tree's HEAD and how many
    paths differ from it (others edit the same tree: figures belong to what was there)."""
    stamp = root / "SNAPSHOT"
    if stamp.exists():
        return f"{root}: {stamp.read_text().strip()}"

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = [line for line in git("status", "--porcelain").splitlines() if line.strip()]
    return f"{root}: {git('rev-parse', '--short', 'HEAD') or '?'} + {len(dirty)} uncommitted paths"


@contextlib.contextmanager
def snapshot_of_head(rev: str = "HEAD") -> Iterator[Path]:
    """A committed tree (git archive of `rev`, HEAD by default) in a temporary folder, with this
    bench/ copied over it (the scripts running now, committed or not); removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="leadpost-head-"))
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        shutil.copytree(
            ROOT / "bench",
            folder / "bench",
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        name = commit[:7] if commit.startswith(rev) else f"{rev} {commit[:7]}"
        (folder / "SNAPSHOT").write_text(f"snapshot of {name} (+ the bench/ running)\n")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def running(service: Service) -> Iterator[Service]:
    try:
        service.start()
        yield service
    finally:
        service.stop()


def _ppid(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[1])
    except (OSError, IndexError, ValueError):
        return -1


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _descendants(root: int) -> list[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parents[int(entry.name)] = _ppid(int(entry.name))
    found, frontier = [], [root]
    while frontier:
        current = frontier.pop()
        children = [p for p, pp in parents.items() if pp == current]
        found += children
        frontier += children
    return found


def rss_kib(pid: int, key: str = "VmRSS") -> int:
    """VmRSS (now) or VmHWM (the peak since the process started) of `pid`, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def machine() -> str:
    """One line describing the machine, for the figures."""
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, StopIteration):
        mem_kib = int(
            next(
                x
                for x in Path("/proc/meminfo").read_text().splitlines()
                if x.startswith("MemTotal")
            ).split()[1]
        )
    return (
        f"{os.cpu_count()} cores ({model}), {mem_kib / 1024 / 1024:.0f} GiB RAM, "
        f"Python {sys.version.split()[0]}, {os.uname().sysname} {os.uname().release}"
    )


# CPU accounting: the bench shares the machine, so each run reports how much CPU went elsewhere. --


def _busy_ticks() -> int:
    """CPU time spent busy by the whole machine since boot, in clock ticks (from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle


def _process_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def _database_pids() -> list[int]:
    """PostgreSQL's processes: part of the system under test when it is the database."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU used during one run: server processes, PostgreSQL's, the load generator, the rest.

    "other" is what the machine spent on anything else (another job on a shared machine):
    figures measured while it is high are not the server's.
    """

    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self, service: Service) -> None:
        self.service = service

    def __enter__(self) -> CpuMeter:
        assert self.service.process is not None
        server = [self.service.process.pid, *_descendants(self.service.process.pid)]
        database = _database_pids() if self.service.database_url else []
        self.start_total = _busy_ticks()
        self.start_server = {p: _process_ticks(p) for p in server}
        self.start_database = {p: _process_ticks(p) for p in database}
        self.start_time = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.monotonic() - self.start_time
        self.total = (_busy_ticks() - self.start_total) / self.HZ
        self.server = self._used(self.start_server)
        self.database = self._used(self.start_database)

    def _used(self, start: dict[int, int]) -> float:
        return sum(max(0, _process_ticks(p) - t) for p, t in start.items()) / self.HZ

    def report(self, loadgen_seconds: float) -> dict[str, float]:
        """Percentages of one core over the run: server, database, load generator, other."""
        other = max(0.0, self.total - self.server - self.database - loadgen_seconds)
        return {
            "server_cpu_pct": round(100 * self.server / self.seconds, 1),
            "database_cpu_pct": round(100 * self.database / self.seconds, 1),
            "other_cpu_pct": round(100 * other / self.seconds, 1),
        }


def wait_for_quiet(max_wait: float, threshold_pct: float = 10.0) -> float:
    """Wait (up to max_wait s) for a second in which the machine is busy under threshold_pct of
    one core; returns the busy % of the last second measured."""
    deadline = time.monotonic() + max_wait
    hz = os.sysconf("SC_CLK_TCK")
    while True:
        before = _busy_ticks()
        time.sleep(1.0)
        busy = 100 * (_busy_ticks() - before) / hz
        if busy < threshold_pct or time.monotonic() >= deadline:
            return busy
