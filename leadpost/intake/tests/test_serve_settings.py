"""Starting the service: a bad setting stops it with one clear line, unsafe switches are refused
or said out loud (they exist for development and tests only)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SECRETS = {
    "LEADPOST_SECRET_KEY": "s" * 50,
    "LEADPOST_SSN_KEYS": "dGVzdC1vbmx5LWtleS1mb3ItbGVhZHBvc3QtdGVzdHM=",
    "LEADPOST_SSN_INDEX_KEY": "i" * 32,
}


def _leadpost(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LEADPOST_") and k != "DJANGO_SETTINGS_MODULE"
    }
    clean["LEADPOST_DATA_DIR"] = os.environ["LEADPOST_DATA_DIR"]
    return subprocess.run(
        [sys.executable, "-m", "leadpost.cli", *args],
        env={**clean, **SECRETS, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"LEADPOST_WORKERS": "abc"}, "LEADPOST_WORKERS must be an integer, not 'abc'"),
        ({"LEADPOST_THREADS": "0"}, "LEADPOST_THREADS must be at least 1, not 0"),
        ({"LEADPOST_BIND": "nowhere"}, "the bind address must be HOST:PORT, not 'nowhere'"),
        ({"LEADPOST_SECRET_KEY": ""}, "LEADPOST_SECRET_KEY is not set"),
        (
            {"LEADPOST_LOG_FORMAT": "xml"},
            "LEADPOST_LOG_FORMAT must be one of plain, json, not 'xml'",
        ),
        ({"LEADPOST_METRICS_BIND": "9100"}, "LEADPOST_METRICS_BIND must be HOST:PORT, not '9100'"),
    ],
)
def test_a_bad_setting_stops_serve_with_one_line(env, said):
    done = _leadpost("serve", "--no-worker", **env)
    assert done.returncode != 0
    assert said in done.stderr
    assert "Traceback" not in done.stderr


def test_loopback_fetching_is_refused_in_production():
    done = _leadpost("check", LEADPOST_FETCH_ALLOW_LOOPBACK="1")
    assert done.returncode != 0
    assert "LEADPOST_FETCH_ALLOW_LOOPBACK=1" in done.stderr
    assert "only accepted with LEADPOST_DEV=1" in done.stderr


def test_loopback_fetching_is_accepted_in_development_and_said_at_start():
    done = _leadpost(
        "serve", "--bind", "nowhere", LEADPOST_FETCH_ALLOW_LOOPBACK="1", LEADPOST_DEV="1"
    )
    assert "the bind address must be HOST:PORT" in done.stderr  # stops before serving


def test_development_mode_is_said_out_loud_at_start(tmp_path):
    # `serve` says what it runs with before it starts the server; a port that is taken stops it.
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _leadpost(
            "serve",
            "--no-worker",
            "--bind",
            f"127.0.0.1:{port}",
            LEADPOST_DEV="1",
            LEADPOST_FETCH_ALLOW_LOOPBACK="1",
        )
    assert "WARNING: LEADPOST_DEV=1 (development)" in done.stderr
    assert "WARNING: LEADPOST_FETCH_ALLOW_LOOPBACK=1" in done.stderr
