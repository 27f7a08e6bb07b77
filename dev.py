#!/usr/bin/env python3
"""Set up, run and test Leadpost on a development machine.

    python3 dev.py demo [--no-serve] [--sample-posts N]
                                      set up, migrate, create a demo account, serve on :8000;
                                      --sample-posts N: also post N sample leads over 30 days
    python3 dev.py test [ARGS...]     set up and run every test (ARGS go to pytest); installs
                                      Debian's chromium and nodejs for the tests when missing
    python3 dev.py lint               ruff check, ruff format --check, mypy leadpost
    python3 dev.py cluster up|status|test|bench|down [ARGS...]
                                      the production set-up of deploy/README.md on this machine
                                      (PostgreSQL, SeaweedFS, 3 app servers, 2 workers, haproxy)
    python3 dev.py setup              only create or refresh the virtualenv in .venv
    python3 dev.py lock [--upgrade [PACKAGE...]]
                                      regenerate requirements/*.txt from pyproject.toml (with uv);
                                      --upgrade: newest versions of all (or only the named) packages

This file runs on any python3 >= 3.8 with the standard library alone: its job is to find a
Python >= 3.12 (Django 6.1 needs it), build `.venv` with it and install the project there from
the lock file requirements/dev.txt (every distribution pinned with its hashes). Re-runs are fast:
pip runs again only when the lock file or pyproject.toml has changed since the last install.

Environment:
    LEADPOST_PYTHON   use this interpreter for .venv instead of searching for one
    DATABASE_URL      passed through to the tests and the service (unset: SQLite)
    LEADPOST_BIND     address the demo server listens on (default 127.0.0.1:8000)
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
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
STAMP = VENV / ".leadpost-installed"  # sha256 of the dev lock and pyproject.toml, last install
PYPROJECT = ROOT / "pyproject.toml"

# The lock files: every distribution, transitive ones included, pinned with the hashes of all its
# files on PyPI, resolved once for every Python and platform we support (`uv pip compile
# --universal`). Each is made from pyproject.toml's dependencies plus these extras, and from
# [build-system].requires, so that `pip install --no-build-isolation` builds the project with a
# locked setuptools too.
REQUIREMENTS = ROOT / "requirements"
DEV_LOCK = REQUIREMENTS / "dev.txt"
PRODUCTION_LOCK = REQUIREMENTS / "production.txt"
LOCK_EXTRAS = {DEV_LOCK: ("s3", "dev"), PRODUCTION_LOCK: ("s3",)}
LOCK_COMMAND = "python3 dev.py lock"
LOCK_PYTHON = "3.12"  # the oldest Python we support; the universal lock holds for the newer ones
UV_VERSION = "0.13.8"  # the uv that `dev.py lock` installs into .venv to write the locks
# The first line of each lock: a hash of the parts of pyproject.toml it was made from.
INPUTS_MARK = "# leadpost-lock-inputs: sha256="

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


def ensure_venv(command: str, install: bool = True) -> None:
    if install:
        # Before anything is built: a stale lock would install what pyproject.toml no longer says.
        check_locks(command)
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
    if install:
        ensure_installed()


# --------------------------------------------------------------------------- the lock files

_READ_TOML = (
    "import json, sys, tomllib; json.dump(tomllib.load(open(sys.argv[1], 'rb')), sys.stdout)"
)


def read_pyproject(path: Path = PYPROJECT, command: str = "setup") -> dict:
    try:
        import tomllib
    except ImportError:  # the python3 running dev.py is older than 3.11: ask a newer one
        interp = venv_is_usable() or find_python(command)
        out = subprocess.run(
            [interp.path, "-c", _READ_TOML, str(path)], stdout=subprocess.PIPE, check=True
        ).stdout
        return json.loads(out.decode())
    with open(str(path), "rb") as f:
        return tomllib.load(f)


def lock_inputs(pyproject: dict) -> dict:
    """The parts of pyproject.toml that the locks are made from (order within a list aside)."""
    project = pyproject.get("project", {})
    extras = project.get("optional-dependencies", {})
    names = sorted({e for es in LOCK_EXTRAS.values() for e in es})
    return {
        "requires-python": project.get("requires-python", ""),
        "dependencies": sorted(project.get("dependencies", [])),
        "extras": {name: sorted(extras.get(name, [])) for name in names},
        "build-system": sorted(pyproject.get("build-system", {}).get("requires", [])),
    }


def inputs_hash(pyproject: dict) -> str:
    blob = json.dumps(lock_inputs(pyproject), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def recorded_hash(lock: Path) -> str | None:
    """The inputs hash written on a lock's first line, or None when there is none."""
    try:
        with open(str(lock)) as f:
            first = f.readline().strip()
    except OSError:
        return None
    recorded = first[len(INPUTS_MARK) :].split() if first.startswith(INPUTS_MARK) else []
    return recorded[0] if recorded else None


def stale_locks(pyproject: dict, locks: Sequence[Path]) -> list[Path]:
    """The lock files that are missing or were not made from this pyproject.toml."""
    wanted = inputs_hash(pyproject)
    return [lock for lock in locks if recorded_hash(lock) != wanted]


def check_locks(command: str) -> None:
    stale = stale_locks(read_pyproject(PYPROJECT, command), list(LOCK_EXTRAS))
    if stale:
        names = " and ".join(str(p.relative_to(ROOT)) for p in stale)
        verb = "is" if len(stale) == 1 else "are"
        die(
            f"{names} {verb} missing or out of date with pyproject.toml's dependencies: "
            f"run `{LOCK_COMMAND}` and commit requirements/"
        )


_LOCKED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_names(lock: Path) -> set[str]:
    """The (canonical) names of the distributions a lock pins."""
    names = set()
    for line in lock.read_text().splitlines():
        m = _LOCKED.match(line)
        if m:
            names.add(canonical(m.group(1)))
    return names


# --------------------------------------------------------------------------- installing


def pip(args: Sequence[str]) -> int:
    """Run .venv's pip, hiding the warnings a machine's pip.conf can make by the hundred."""
    proc = subprocess.Popen(
        [str(VENV_PYTHON), "-m", "pip", *args],
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
    return proc.wait()


def installed_stamp() -> str:
    # pyproject.toml too: it names the `leadpost` script that the editable install makes.
    digest = hashlib.sha256(DEV_LOCK.read_bytes())
    digest.update(b"\0")
    digest.update(PYPROJECT.read_bytes())
    return digest.hexdigest()


# Kept in .venv though no lock names them: pip itself, the project, and the uv of `dev.py lock`.
NOT_LOCKED = {"pip", "leadpost", "uv"}


def remove_unlocked() -> None:
    """Uninstall what an older lock installed and this one no longer names."""
    out = subprocess.run(
        [str(VENV_PYTHON), "-m", "pip", "list", "--format=json"],
        stdout=subprocess.PIPE,
        check=True,
    ).stdout
    keep = locked_names(DEV_LOCK) | NOT_LOCKED
    extra = sorted(d["name"] for d in json.loads(out.decode()) if canonical(d["name"]) not in keep)
    if extra:
        say("removing what the lock no longer names: " + ", ".join(extra))
        if pip(["uninstall", "--quiet", "--yes", *extra]) != 0:
            die("pip uninstall failed; see its output above.")


def ensure_installed() -> None:
    wanted = installed_stamp()
    try:
        if STAMP.read_text().strip() == wanted:
            return
    except OSError:
        pass
    lock = str(DEV_LOCK.relative_to(ROOT))
    say(f"installing the locked dependencies into .venv (pip install --require-hashes -r {lock})")
    code = pip(["install", "--quiet", "--require-hashes", "-r", lock])
    if code != 0:
        die(f"pip install failed (exit {code}); see its output above.")
    remove_unlocked()
    # --no-deps: everything came from the lock; --no-build-isolation: build with the locked
    # setuptools now in .venv rather than whatever pip would fetch into a build environment.
    say("installing leadpost itself (pip install --no-deps --no-build-isolation -e .)")
    code = pip(["install", "--quiet", "--no-deps", "--no-build-isolation", "-e", "."])
    if code != 0:
        die(f"pip install -e . failed (exit {code}); see its output above.")
    check = subprocess.run(
        [str(VENV_PYTHON), "-m", "pip", "check"], stdout=subprocess.PIPE, text=True
    )
    if check.returncode != 0:
        sys.stderr.write(check.stdout)
        die(
            f"pip check: .venv misses or conflicts in what the lock installed: run `{LOCK_COMMAND}`."
        )
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


LOCK_USAGE = "usage: python3 dev.py lock [--upgrade [PACKAGE...]]"


def ensure_uv() -> str:
    """.venv's uv, installed there (pinned) when missing or another version."""
    uv = VENV_BIN / ("uv.exe" if os.name == "nt" else "uv")
    try:
        version = subprocess.run(
            [str(uv), "--version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True
        ).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        version = ""
    if version.split()[1:2] != [UV_VERSION]:
        say(f"installing uv {UV_VERSION} into .venv to write the lock files")
        if pip(["install", "--quiet", f"uv=={UV_VERSION}"]) != 0:
            die("pip install uv failed; see its output above.")
    return str(uv)


def lock_header(pyproject: dict, extras: Sequence[str]) -> str:
    return (
        f"{INPUTS_MARK}{inputs_hash(pyproject)}\n"
        f"# Written by `{LOCK_COMMAND}` from pyproject.toml: its dependencies, "
        f"extra{'s' if len(extras) > 1 else ''} {' and '.join(extras)},\n"
        "# and [build-system].requires (setuptools, for --no-build-isolation). Do not edit by "
        "hand.\n"
    )


def cmd_lock(args: list[str]) -> int:
    """Write requirements/dev.txt, then requirements/production.txt within it, with uv."""
    upgrade: list[str] = []
    if args and args[0] == "--upgrade":
        upgrade = ["--upgrade"] if len(args) == 1 else []
        for name in args[1:]:
            if name.startswith("-"):
                die(LOCK_USAGE)
            upgrade += ["--upgrade-package", name]
    elif args:
        die(LOCK_USAGE)
    ensure_venv("lock", install=False)  # only for uv: the locks are made, not read, here
    uv = ensure_uv()
    pyproject = read_pyproject(PYPROJECT, "lock")
    build_requires = "".join(
        r + "\n" for r in pyproject.get("build-system", {}).get("requires", [])
    )
    REQUIREMENTS.mkdir(exist_ok=True)
    for lock in (DEV_LOCK, PRODUCTION_LOCK):
        extras = LOCK_EXTRAS[lock]
        rel = str(lock.relative_to(ROOT))
        # uv keeps the versions of the file it writes to unless told to upgrade: start from the
        # current lock, so that a plain `lock` changes only what pyproject.toml changed.
        tmp = lock.with_name("." + lock.name + ".tmp")
        if lock.exists():
            shutil.copyfile(str(lock), str(tmp))
        argv = [uv, "pip", "compile", "pyproject.toml", "-"]  # "-": build_requires on stdin
        for extra in extras:
            argv += ["--extra", extra]
        argv += ["--universal", "--python-version", LOCK_PYTHON, "--generate-hashes"]
        argv += ["--custom-compile-command", LOCK_COMMAND, "--quiet", "--output-file", str(tmp)]
        if lock != DEV_LOCK:
            # Production runs the versions the tests ran: the dev lock constrains it.
            argv += ["--constraint", str(DEV_LOCK.relative_to(ROOT))]
        say(f"writing {rel}")
        result = subprocess.run(argv + upgrade, cwd=str(ROOT), input=build_requires.encode())
        if result.returncode != 0:
            if tmp.exists():
                tmp.unlink()
            die(f"uv pip compile failed for {rel} (exit {result.returncode}); see above.")
        tmp.write_text(lock_header(pyproject, extras) + tmp.read_text())  # uv rewrote it whole
        os.replace(str(tmp), str(lock))
    say(f"locked; `python3 dev.py setup` installs {DEV_LOCK.relative_to(ROOT)} into .venv")
    return 0


def cmd_demo(args: list[str]) -> int:
    """Migrate the (SQLite) database, create or reuse the demo account, then serve."""
    serve = "--no-serve" not in args
    # The rest (--sample-posts N) is the `leadpost demo` command's, which checks it.
    demo_args = [arg for arg in args if arg != "--no-serve"]
    ensure_venv("demo")
    cli = leadpost_cli()
    env = dict(os.environ)
    # Development mode: the settings generate dev secrets under ./data/ and keep them there.
    env["LEADPOST_DEV"] = "1"
    # The printed URLs and curl lines go where the server listens (LEADPOST_BIND).
    if "LEADPOST_BASE_URL" not in env and "LEADPOST_BIND" in env:
        host, _, port = env["LEADPOST_BIND"].rpartition(":")
        # A bind to every interface is reached on loopback.
        anywhere = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]", "": "127.0.0.1"}  # noqa: S104
        host = anywhere.get(host, host)
        env["LEADPOST_BASE_URL"] = f"http://{host}:{port}"

    say("migrating the database")
    code = run([cli, "migrate", "--noinput"], env)
    if code != 0:
        return code
    # Creates (or reuses) the demo account, its user, Lead Post URL and API token, and prints
    # the URL, the token and a ready curl line.
    code = run([cli, "demo", *demo_args], env)
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
NODE = "/usr/bin/node"  # the README's Node.js webhook-signature example is run by a test
# What the tests run that is not Python: the program, and the Debian package that brings it.
TEST_PROGRAMS = (
    (CHROMIUM, "chromium", "the browser tests"),
    (NODE, "nodejs", "the Node.js example"),
)


def ensure_test_programs() -> None:
    """Install Debian's chromium and nodejs for the tests when missing: as root, or via sudo."""
    missing = [
        (path, package, why) for path, package, why in TEST_PROGRAMS if not os.path.exists(path)
    ]
    if not missing:
        return
    packages = [package for _, package, _ in missing]
    apt_get = shutil.which("apt-get")
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    sudo = None if is_root else shutil.which("sudo")
    if apt_get is None or not (is_root or sudo):
        needs = ", ".join(f"{path} for {why}" for path, _, why in missing)
        die(
            f"the tests need {needs}, which this user cannot install (needs Debian's apt-get, "
            f"and root or sudo). Install them, e.g. `sudo apt-get install -y {' '.join(packages)}` "
            "on Debian, then run this command again."
        )
    # `env` inside sudo: sudo drops the caller's environment.
    prefix = ([] if is_root else [str(sudo)]) + ["env", "DEBIAN_FRONTEND=noninteractive", apt_get]
    say(f"installing Debian's {' and '.join(packages)} for the tests")
    for argv in (["update", "-q"], ["install", "-y", "-q", "--no-install-recommends", *packages]):
        if run(prefix + argv) != 0:
            die(
                f"`apt-get {' '.join(argv)}` failed; install {' '.join(packages)}, then run this again."
            )
    for path, package, _ in missing:
        if not os.path.exists(path):
            die(f"{package} was installed but {path} is still missing.")


def cmd_test(args: list[str]) -> int:
    ensure_venv("test")
    ensure_test_programs()
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


def cmd_cluster(args: list[str]) -> int:
    ensure_venv("cluster")
    # The cluster brings its own database and settings; a developer's would only confuse it.
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return run([str(VENV_PYTHON), "-m", "deploy.cluster", *args], env)


def _redact(url: str) -> str:
    """postgres://user:secret@host/db -> postgres://user:***@host/db"""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if sep and at and ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
        return scheme + sep + creds + at + host
    return url


COMMANDS = {
    "setup": cmd_setup,
    "demo": cmd_demo,
    "test": cmd_test,
    "lint": cmd_lint,
    "lock": cmd_lock,
    "cluster": cmd_cluster,
}


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
