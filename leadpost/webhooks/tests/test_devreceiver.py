"""The receiver the README's walk-through runs: it says whether each event's signature holds."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import httpx

from leadpost.webhooks.signing import signature

SECRET = "whsec_devreceiver-test-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_it_prints_each_event_and_whether_it_is_signed() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "leadpost.webhooks.devreceiver",
            "--port",
            str(port),
            "--secret",
            SECRET,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert "receiving webhooks on" in process.stdout.readline()
        body = json.dumps(
            {"id": "evt_1", "type": "record.created", "data": {"id": 7, "servicingAgent": None}}
        ).encode()
        good = signature(SECRET, int(time.time()), body)
        answers = [
            httpx.post(f"http://127.0.0.1:{port}/", content=body, headers={"Leadpost-Signature": h})
            for h in (good, good.replace("v1=", "v1=0"))
        ]
        assert [a.status_code for a in answers] == [200, 200]
        lines = [process.stdout.readline() for _ in answers]
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "signed  record.created evt_1 record 7" in lines[0]
    assert "BAD SIGNATURE" in lines[1]


def test_it_refuses_to_start_without_the_secret() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "leadpost.webhooks.devreceiver"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2 and "give the webhook's secret" in done.stderr
