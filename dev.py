#!/usr/bin/env python3
"""Set up, run and test Leadpost on a development machine.

    python3 dev.py demo [--no-serve]  set up, migrate, create a demo account, serve on :8000
    python3 dev.py test [ARGS...]     set up and run every test (ARGS go to pytest); installs
                                      Debian's chromium for the browser tests when missing
    python3 dev.py lint               ruff check, ruff format --check, mypy leadpost
    python3 dev.py setup              only create or refresh the virtualenv in .venv

This file runs on any python3 >= 3.8 with the standard library alone: its job is to find a
Python >= 3.12 (Django 6.1 needs it), build `.venv` with it and install the project there.
Re-runs are fast: pip runs again only when pyproject.toml has changed since the last install.

Environment:
    LEADPOST_PYTHON   use this interpreter for .venv instead of searching for one
    DATABASE_URL      passed through to the tests and the service (unset: SQLite)
    LEADPOST_BIND     address the demo server listens on (default 127.0.0.1:8000)
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

# This script exists to start other programs (interpreters, pip, pytest, the server) with
# fixed argument lists and no shell, so the subprocess checks do not apply.
# ruff: noqa: S603, S606

MIN_PYTHON = (3, 12)
ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
VENV_PYTHON = VENV_BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".leadpost-installed"  # sha256 of pyproject.toml at the last successful install
PYPROJECT = ROOT / "pyproject.toml"

# Printed by each candidate interpreter: its version and the prefix a venv made from it reports
# as sys.base_prefix (so we can tell which interpreter an existing .venv was made from).
_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3]); print(sys.base_prefix)"


def say(msg: str) -> None:
    print("dev.py: " + msg, flush=True)


def die(msg: str, code: int = 1) -> NoReturn:
    print("dev.py: error: " + msg, file=sys.stderr, flush=True)
    sys.exit(code)


# --------------------------------------------------------------------------- finding a Python


class Interpreter:
    def __init__(self, path: str, version: tuple[int, int, int], base_prefix: str) -> None:
        self.path = path
        self.version = version
        self.base_prefix = base_prefix

    @property
    def version_str(self) -> str:
        return ".".join(str(v) for v in self.version)


def probe(path: str) -> Interpreter | None:
    """Run `path` and ask its version; None when it does not run (e.g. a pyenv shim for a
    version that is not selected, which exits with 'pyenv: python3.12: command not found')."""
    try:
        out = subprocess.run(
            [path, "-c", _PROBE],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            timeout=30,
            check=True,
        ).stdout.decode()
        version_line, base_prefix = out.strip().splitlines()[:2]
        major, minor, micro = (int(p) for p in version_line.split("."))
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return Interpreter(path, (major, minor, micro), base_prefix)


def _version_key(path: str) -> tuple[int, ...]:
    """Sort key for paths such as ~/.pyenv/versions/3.13.0/bin/python3: newest first."""
    for part in reversed(Path(path).parts):
        bits = part.replace("python", "").split(".")
        if len(bits) >= 2 and all(b.isdigit() for b in bits):
            return tuple(-int(b) for b in bits)
    return ()


def candidates() -> list[str]:
    """Places a Python >= 3.12 may be, most likely first. Each is run before it is trusted."""
    found: list[str] = []
    if sys.version_info >= MIN_PYTHON:
        found.append(sys.executable)  # the python3 running this script is new enough
    for name in ("python3.14", "python3.13", "python3.12", "python3", "python"):
        path = shutil.which(name)
        if path:
            found.append(path)
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    patterns = [
        os.path.join(pyenv_root, "versions", "3.1[2-9]*", "bin", "python3"),
        os.path.expanduser("~/.local/share/uv/python/cpython-3.1[2-9]*/bin/python3"),
        "/usr/local/bin/python3.1[2-9]",
        "/usr/bin/python3.1[2-9]",
        "/opt/homebrew/bin/python3.1[2-9]",
        "/Library/Frameworks/Python.framework/Versions/3.1[2-9]/bin/python3",
    ]
    for pattern in patterns:
        found.extend(sorted(glob.glob(pattern), key=_version_key))
    unique: list[str] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


NO_PYTHON_HELP = """\
Leadpost needs Python 3.12 or newer (Django 6.1 requires it), and none was found.
Tried: {tried}
Install one, then run this command again, for example:
  - Debian 13 / Ubuntu 24.04:  sudo apt-get install python3.13 python3.13-venv
  - pyenv:                     pyenv install 3.13   (found under ~/.pyenv/versions by itself)
  - macOS (Homebrew):          brew install python@3.13
  - or an installer from python.org
Or point LEADPOST_PYTHON at one:  LEADPOST_PYTHON=/path/to/python3.13 python3 dev.py {command}"""


def find_python(command: str) -> Interpreter:
    forced = os.environ.get("LEADPOST_PYTHON")
    if forced:
        interp = probe(forced)
        if interp is None:
            die(f"LEADPOST_PYTHON={forced} does not run.")
        if interp.version < MIN_PYTHON:
            die(
                f"LEADPOST_PYTHON={forced} is Python {interp.version_str}; "
                "Leadpost needs 3.12 or newer."
            )
        return interp
    tried = []
    for path in candidates():
        interp = probe(path)
        tried.append(path if interp is None else f"{path} ({interp.version_str})")
        if interp is not None and interp.version >= MIN_PYTHON:
            return interp
    die(NO_PYTHON_HELP.format(tried=", ".join(tried) or "nothing", command=command))


# --------------------------------------------------------------------------- the virtualenv


def venv_is_usable() -> Interpreter | None:
    """The interpreter of .venv when it runs and is new enough, else None."""
    if not VENV_PYTHON.exists():
        return None
    interp = probe(str(VENV_PYTHON))
    if interp is None or interp.version < MIN_PYTHON:
        return None
    return interp


def ensure_venv(command: str) -> None:
    existing = venv_is_usable()
    if existing is not None and os.environ.get("LEADPOST_PYTHON"):
        wanted = find_python(command)
        if os.path.realpath(wanted.base_prefix) != os.path.realpath(existing.base_prefix):
            say("LEADPOST_PYTHON is not the Python .venv was made with; rebuilding .venv")
            existing = None
    elif existing is None and VENV.exists():
        say(".venv is broken or older than Python 3.12; rebuilding it")
    if existing is None:
        shutil.rmtree(VENV, ignore_errors=True)
        interp = find_python(command)
        say(f"creating .venv with Python {interp.version_str} ({interp.path})")
        result = subprocess.run([interp.path, "-m", "venv", str(VENV)], cwd=str(ROOT))
        if result.returncode != 0 or not VENV_PYTHON.exists():
            shutil.rmtree(VENV, ignore_errors=True)
            minor = f"{interp.version[0]}.{interp.version[1]}"
            die(
                f"could not create .venv with {interp.path}. On Debian/Ubuntu its venv "
                f"module is a separate package: sudo apt-get install python{minor}-venv"
            )
    ensure_installed()


def pyproject_hash() -> str:
    return hashlib.sha256(PYPROJECT.read_bytes()).hexdigest()


def ensure_installed() -> None:
    wanted = pyproject_hash()
    try:
        if STAMP.read_text().strip() == wanted:
            return
    except OSError:
        pass
    say("installing leadpost and its dependencies into .venv (pip install -e '.[dev]')")
    proc = subprocess.Popen(
        [str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "-e", ".[dev]"],
        cwd=str(ROOT),
        stderr=subprocess.PIPE,
        universal_newlines=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        # A machine's pip.conf may list local extra indexes that do not exist: pip then warns
        # once per package ("Location 'file:///...' is ignored"), which only buries real errors.
        if "WARNING: Location 'file:" in line and "is ignored" in line:
            continue
        sys.stderr.write(line)
    returncode = proc.wait()
    if returncode != 0:
        die(f"pip install failed (exit {returncode}); see its output above.")
    tmp = STAMP.with_suffix(".tmp")
    tmp.write_text(wanted + "\n")
    os.replace(str(tmp), str(STAMP))
    say("installed")


# --------------------------------------------------------------------------- commands


def run(argv: Sequence[str], env: dict[str, str] | None = None) -> int:
    return subprocess.run(list(argv), cwd=str(ROOT), env=env).returncode


def leadpost_cli() -> str:
    """The `leadpost` console script that `pip install -e .` puts in .venv."""
    path = VENV_BIN / ("leadpost.exe" if os.name == "nt" else "leadpost")
    if not path.exists():
        die(f"{path} is missing: is [project.scripts] leadpost set in pyproject.toml?")
    return str(path)


def cmd_setup(args: list[str]) -> int:
    ensure_venv("setup")
    say(f"ready: {VENV_PYTHON}")
    return 0


def cmd_demo(args: list[str]) -> int:
    """Migrate the (SQLite) database, create or reuse the demo account, then serve."""
    serve = "--no-serve" not in args
    ensure_venv("demo")
    cli = leadpost_cli()
    env = dict(os.environ)
    # Development mode: the settings generate dev secrets under ./data/ and keep them there.
    env["LEADPOST_DEV"] = "1"

    say("migrating the database")
    code = run([cli, "migrate", "--noinput"], env)
    if code != 0:
        return code
    # Creates (or reuses) the demo account, its user, Lead Post URL and API token, and prints
    # the URL, the token and a ready curl line.
    code = run([cli, "demo"], env)
    if code != 0:
        return code
    if not serve:
        return 0

    bind = env.get("LEADPOST_BIND", "127.0.0.1:8000")
    say(f"serving on {bind} (Ctrl-C stops it)")
    sys.stdout.flush()
    os.chdir(str(ROOT))
    os.execve(cli, [cli, "serve"], env)  # replaces this process: signals go to the server
    return 0  # unreachable


CHROMIUM = "/usr/bin/chromium"  # the browser tests drive Debian's Chromium (never a downloaded one)


def ensure_chromium() -> None:
    """Install Debian's chromium for the browser tests when it is missing: as root, or via sudo."""
    if os.path.exists(CHROMIUM):
        return
    apt_get = shutil.which("apt-get")
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    sudo = None if is_root else shutil.which("sudo")
    if apt_get is None or not (is_root or sudo):
        die(
            f"the browser tests need Chromium at {CHROMIUM}, which is missing, and this user "
            "cannot install it (needs Debian's apt-get, and root or sudo). Install it, e.g. "
            "`sudo apt-get install -y chromium` on Debian, then run this command again."
        )
    # `env` inside sudo: sudo drops the caller's environment.
    prefix = ([] if is_root else [str(sudo)]) + ["env", "DEBIAN_FRONTEND=noninteractive", apt_get]
    say(f"{CHROMIUM} is missing: installing Debian's chromium for the browser tests")
    for argv in (["update", "-q"], ["install", "-y", "-q", "chromium"]):
        if run(prefix + argv) != 0:
            die(f"`apt-get {' '.join(argv)}` failed; install chromium, then run this again.")
    if not os.path.exists(CHROMIUM):
        die(f"chromium was installed but {CHROMIUM} is still missing.")


def cmd_test(args: list[str]) -> int:
    ensure_venv("test")
    ensure_chromium()
    url = os.environ.get("DATABASE_URL")
    if url:
        say(f"running the tests on {_redact(url)}")
    else:
        say("running the tests on SQLite (set DATABASE_URL for PostgreSQL)")
    code = run([str(VENV_PYTHON), "-m", "pytest", *args])
    if code == 5:  # pytest: no tests were collected; a test command that tested nothing failed
        print("dev.py: error: pytest collected no tests", file=sys.stderr)
        return 1
    return code


def cmd_lint(args: list[str]) -> int:
    ensure_venv("lint")
    py = str(VENV_PYTHON)
    checks = [
        ("ruff check", [py, "-m", "ruff", "check", "."]),
        ("ruff format --check", [py, "-m", "ruff", "format", "--check", "."]),
        ("mypy leadpost", [py, "-m", "mypy", "leadpost"]),
    ]
    failed = []
    for name, argv in checks:
        say(name)
        if run(argv) != 0:
            failed.append(name)
    if failed:
        print("dev.py: error: failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    say("lint clean")
    return 0


def _redact(url: str) -> str:
    """postgres://user:secret@host/db -> postgres://user:***@host/db"""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if sep and at and ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
        return scheme + sep + creds + at + host
    return url


COMMANDS = {"setup": cmd_setup, "demo": cmd_demo, "test": cmd_test, "lint": cmd_lint}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help") or argv[0] not in COMMANDS:
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help", "help") else 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
