"""The operators' files in deploy/ agree with the code: every setting, every command, every unit.

A setting added to settings.py without its line in deploy/leadpost.env.example and its row in
README.md's Settings table fails here, as does a unit whose ExecStart names a command or an option
`leadpost` does not have.
"""

from __future__ import annotations

import ast
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

from leadpost.cli import command_name

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "leadpost" / "settings.py"
ENV_EXAMPLE = ROOT / "deploy" / "leadpost.env.example"
UNITS = ROOT / "deploy" / "systemd"
LEADPOST_BIN = "/opt/leadpost/venv/bin/leadpost"
ENV_FILE = "/etc/leadpost/leadpost.env"


# settings.py's readers of the environment: every env_*() helper, and the secrets' reader.
def _is_env_helper(name: str) -> bool:
    return name.startswith("env_") or name == "_secret"


# Read by the code but never set by an operator: settings_test.py sets it for the test suite.
INTERNAL = {"LEADPOST_TESTING"}


def _literal_name(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_os_environ(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def environment_reads(tree: ast.AST, *, helpers: bool) -> set[str]:
    """Names read from the environment: env_*("NAME", ...) calls, os.environ / os.getenv reads."""
    names: set[str] = set()
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            helper = helpers and isinstance(func, ast.Name) and _is_env_helper(func.id)
            environ_get = (
                isinstance(func, ast.Attribute)
                and func.attr == "get"
                and _is_os_environ(func.value)
            )
            getenv = (
                isinstance(func, ast.Attribute)
                and func.attr == "getenv"
                and isinstance(func.value, ast.Name)
                and func.value.id == "os"
            )
            if helper or environ_get or getenv:
                name = _literal_name(node.args[0])
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and _is_os_environ(node.value)
        ):
            name = _literal_name(node.slice)
        elif (
            isinstance(node, ast.Compare)
            and len(node.ops) == 1
            and isinstance(node.ops[0], ast.In | ast.NotIn)
            and _is_os_environ(node.comparators[0])
        ):
            name = _literal_name(node.left)
        if name is not None:
            names.add(name)
    return names


def settings_read() -> set[str]:
    """Every variable the service reads: settings.py's helpers, and os.environ anywhere in it."""
    names = environment_reads(ast.parse(SETTINGS.read_text()), helpers=True)
    for path in (ROOT / "leadpost").rglob("*.py"):
        # The test suite's own files set and read the variables of the tests.
        if "tests" in path.parts or path.name in {"settings_test.py", "conftest.py"}:
            continue
        names |= environment_reads(ast.parse(path.read_text()), helpers=False)
    return names - {"DJANGO_SETTINGS_MODULE"}


ASSIGNMENT = re.compile(r"^(?P<comment>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
# A value both systemd's EnvironmentFile= and `. file` in sh read the same way.
SHELL_SAFE = re.compile(r"^[A-Za-z0-9_.,:/@%+=*-]*$")


def env_example() -> tuple[dict[str, str], set[str]]:
    """(active NAME=value lines, names shown only commented out as `# NAME=default`)."""
    active: dict[str, str] = {}
    commented: set[str] = set()
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), 1):
        match = ASSIGNMENT.match(line.strip())
        if not match:
            assert not line.strip() or line.lstrip().startswith("#"), (
                f"leadpost.env.example:{number}: neither a comment nor NAME=value: {line!r}"
            )
            continue
        name = match["name"]
        if match["comment"]:
            commented.add(name)
        else:
            assert name not in active, f"leadpost.env.example:{number}: {name} set twice"
            active[name] = match["value"]
    return active, commented


def readme_settings() -> set[str]:
    """Variables named in README.md's Settings table (any cell: some rows name several)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return set(re.findall(r"`((?:LEADPOST_|DATABASE_URL)[A-Z0-9_]*)`", "\n".join(rows)))


def test_the_parser_finds_the_settings() -> None:
    # Guards the tests below from passing on a parser that finds nothing.
    found = settings_read()
    assert {"DATABASE_URL", "LEADPOST_SECRET_KEY", "LEADPOST_SSN_KEYS", "LEADPOST_BIND"} <= found
    assert "LEADPOST_S3_SECRET_ACCESS_KEY" in found
    assert len(found) > 40


def test_every_setting_is_in_the_env_example() -> None:
    active, commented = env_example()
    missing = settings_read() - INTERNAL - set(active) - commented
    assert not missing, f"add to deploy/leadpost.env.example: {sorted(missing)}"


def test_the_env_example_names_only_settings_that_are_read() -> None:
    active, commented = env_example()
    unread = (set(active) | commented) - settings_read()
    assert not unread, f"deploy/leadpost.env.example names settings nobody reads: {sorted(unread)}"
    assert not INTERNAL & (set(active) | commented)


def test_every_setting_is_in_the_readme_table() -> None:
    missing = settings_read() - INTERNAL - readme_settings()
    assert not missing, f"add to README.md's Settings table: {sorted(missing)}"


def test_the_env_example_is_ready_for_production_and_safe_to_source() -> None:
    active, _ = env_example()
    for name, value in active.items():
        assert SHELL_SAFE.match(value), f"{name}={value!r}: not read alike by systemd and sh"
    # Secrets are placeholders an operator must replace, never a working value to copy.
    for secret in ("LEADPOST_SECRET_KEY", "LEADPOST_SSN_KEYS", "LEADPOST_SSN_INDEX_KEY"):
        assert active[secret] == "CHANGE_ME"
    assert active["DATABASE_URL"].startswith("postgres://")
    assert active["LEADPOST_BASE_URL"].startswith("https://")
    assert active["LEADPOST_BEHIND_PROXY"] == "1"
    for switch in ("LEADPOST_DEV", "LEADPOST_DEBUG", "LEADPOST_FETCH_ALLOW_LOOPBACK"):
        assert active[switch] == "0"


# --------------------------------------------------------------------------- systemd units

KNOWN_SECTIONS = {"Unit", "Service", "Timer", "Install", "Socket", "Path"}


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A unit file as systemd reads it: [Section] headers, Key=Value lines (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    pending = ""
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = pending + raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        where = f"{path.name}:{number}"
        if line.startswith("["):
            assert line.endswith("]"), f"{where}: bad section header {line!r}"
            name = line[1:-1]
            assert name in KNOWN_SECTIONS, f"{where}: unknown section [{name}]"
            assert name not in sections, f"{where}: [{name}] twice"
            current = sections[name] = []
            continue
        assert current is not None, f"{where}: {line!r} before any [Section]"
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key.strip()), (
            f"{where}: not Key=Value: {line!r}"
        )
        current.append((key.strip(), value.strip()))
    assert not pending, f"{path.name}: ends with a continued line"
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [value for k, value in section if k == key]


def unit_files() -> list[Path]:
    return sorted(path for path in UNITS.iterdir() if path.is_file())


def test_the_expected_units_are_there() -> None:
    names = {path.name for path in unit_files()}
    assert {
        "leadpost-web.service",
        "leadpost-worker@.service",
        "leadpost-purge.service",
        "leadpost-purge.timer",
    } <= names
    assert all(name.endswith((".service", ".timer")) for name in names), names


@pytest.mark.parametrize("path", unit_files(), ids=lambda path: path.name)
def test_every_unit_parses_with_the_sections_systemd_needs(path: Path) -> None:
    sections = parse_unit(path)
    assert values(sections.get("Unit", []), "Description"), f"{path.name}: no Description="
    if path.suffix == ".service":
        service = sections["Service"]
        long_running = values(service, "Type") != ["oneshot"]
        # systemd runs several ExecStart= lines in order only for a oneshot service.
        assert len(values(service, "ExecStart")) == 1 or not long_running, (
            f"{path.name}: one ExecStart="
        )
        if long_running:
            assert values(service, "Restart") == ["always"]
            assert values(sections["Install"], "WantedBy") == ["multi-user.target"]
        else:
            # Started by its timer, never enabled on its own.
            assert "Install" not in sections, f"{path.name}: a timer's service has no [Install]"
        for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
            assert values(service, key) == ["yes"], f"{path.name}: {key}=yes"
        assert values(service, "ProtectSystem") == ["strict"]
    else:
        timer = sections["Timer"]
        assert values(timer, "OnCalendar"), f"{path.name}: no OnCalendar="
        target = (values(timer, "Unit") or [path.with_suffix(".service").name])[0]
        assert (UNITS / target).is_file(), f"{path.name} starts {target}, which is not here"
        assert values(sections["Install"], "WantedBy") == ["timers.target"]


def leadpost_exec_starts() -> list[tuple[Path, list[str]]]:
    found = []
    for path in unit_files():
        if path.suffix != ".service":
            continue
        for line in values(parse_unit(path)["Service"], "ExecStart"):
            argv = shlex.split(line.lstrip("-@:+!"))
            if argv[0].endswith("/leadpost"):
                found.append((path, argv))
    return found


def test_units_run_leadpost_from_the_install_with_its_settings_as_its_user() -> None:
    runs: dict[str, list[str]] = {}
    for path, argv in leadpost_exec_starts():
        runs.setdefault(path.name, []).append(argv[1])
    assert runs == {
        "leadpost-web.service": ["serve"],
        "leadpost-worker@.service": ["worker"],
        "leadpost-purge.service": ["purge-post-log", "purge-orphan-files"],
    }
    for path, argv in leadpost_exec_starts():
        service = parse_unit(path)["Service"]
        assert argv[0] == LEADPOST_BIN
        assert values(service, "EnvironmentFile") == [ENV_FILE]
        assert values(service, "User") == ["leadpost"]


@pytest.mark.parametrize(
    ("path", "argv"), leadpost_exec_starts(), ids=lambda value: getattr(value, "name", "")
)
def test_exec_start_names_a_leadpost_command_and_its_options(path: Path, argv: list[str]) -> None:
    name = command_name(argv[1])  # the console script's spelling, as leadpost/cli.py maps it
    commands = get_commands()
    assert name in commands, f"{path.name}: `leadpost {argv[1]}` is not a command"
    command = load_command_class(commands[name], name)
    # Raises CommandError on an option the command does not take.
    command.create_parser("leadpost", name).parse_args(argv[2:])


def test_the_app_server_stops_as_granian_expects() -> None:
    service = parse_unit(UNITS / "leadpost-web.service")["Service"]
    argv = shlex.split(values(service, "ExecStart")[0])
    assert argv[1:] == ["serve", "--no-worker"]  # the bind address comes from LEADPOST_BIND
    # SIGTERM to granian's master only; it stops its workers, waiting up to its 30 s
    # workers_kill_timeout (leadpost/server.py) before systemd would SIGKILL what is left.
    assert values(service, "KillMode") == ["mixed"]
    assert values(service, "KillSignal") == ["SIGTERM"]
    assert int(values(service, "TimeoutStopSec")[0]) > 30


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify_accepts_every_unit(tmp_path: Path) -> None:
    # systemd-analyze verify works without systemd running; --root needs the distribution's
    # units (targets) and the programs ExecStart names, which stand in as empty executables.
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "lib").symlink_to("usr/lib")
    (root / "etc/systemd/system").mkdir(parents=True)
    names = []
    for path in unit_files():
        shutil.copy(path, root / "etc/systemd/system" / path.name)
        names.append(path.name.replace("@.", "@1."))
        if path.suffix == ".service":
            program = shlex.split(values(parse_unit(path)["Service"], "ExecStart")[0])[0]
            stand_in = root / program.lstrip("/")
            stand_in.parent.mkdir(parents=True, exist_ok=True)
            stand_in.write_text("#!/bin/sh\n")
            stand_in.chmod(0o755)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", *names],
        capture_output=True,
        text=True,
        check=False,
    )
    # An unknown directive or a bad value is only a warning: any output is a failure here.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), (
        result.stdout + result.stderr
    )
