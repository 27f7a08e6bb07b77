#!/usr/bin/env python3
"""Peak resident memory of the server process while it takes one post of many base64 files.

    .venv/bin/python bench/intake_memory.py              # 25 files (5 notes x 5), 2 MiB of base64 each
    .venv/bin/python bench/intake_memory.py --decoded    # 25 files of 2 MiB each once decoded
    DATABASE_URL=postgres://... .venv/bin/python bench/intake_memory.py

Starts Leadpost as production does (`leadpost serve`) with one web worker, so the process that
takes the post is known, warms it up with a typical post, then sends the big one and reads the
worker's VmHWM (the kernel's high-water mark of its resident memory) before and after. Prints the
body size, the peak, and both as a ratio of the body: the peak itself, and the growth over what the
worker held before (the part the post is responsible for). A figure, not an assertion.

With --decoded the files are 2 MiB each after decoding, so the body is ~71 MiB: over the default
64 MiB limit, which the bench then raises to 96 MiB (LEADPOST_MAX_BODY_BYTES).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.leads import form_body, lead_with_files, typical_lead
from bench.service import Service, machine, rss_kib, running

MIB = 1024 * 1024


def post(port: int, path: str, body: bytes, timeout: float = 300) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST", path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


class Sampler(threading.Thread):
    """VmRSS of `pid` every few milliseconds: when the peak happened, beside VmHWM's how much."""

    def __init__(self, pid: int, interval: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        while not self.stop.is_set():
            try:
                self.samples.append((time.monotonic() - start, rss_kib(self.pid)))
            except (OSError, KeyError):
                return
            time.sleep(self.interval)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=5)
    parser.add_argument("--files-per-note", type=int, default=5)
    parser.add_argument("--file-mib", type=float, default=2.0, help="MiB per file (default 2)")
    parser.add_argument(
        "--decoded",
        action="store_true",
        help="--file-mib is the decoded size (default: the size of the base64 text)",
    )
    parser.add_argument("--bench-database", default="leadpost_bench")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    file_bytes = int(args.file_mib * MIB)
    base64_bytes = (file_bytes + 2) // 3 * 4 if args.decoded else file_bytes
    body, decoded = lead_with_files(args.notes, args.files_per_note, base64_bytes)
    extra_env = {}
    if len(body) > 64 * MIB:
        extra_env["LEADPOST_MAX_BODY_BYTES"] = str(max(96 * MIB, len(body) + MIB))
    service = Service(
        database_url=os.environ.get("DATABASE_URL") or None,
        bench_database=args.bench_database,
        workers=1,
        extra_env=extra_env,
        keep=args.keep,
    )
    try:
        tokens = service.prepare(["memory"])
        path = "/leadpost/" + tokens["memory"]
        print(f"Machine: {machine()}")
        print(f"Server: leadpost serve, 1 web worker; {service.database}")
        with running(service):
            (worker,) = service.web_worker_pids()
            status, _ = post(service.port, path, form_body(typical_lead("warm-up")).encode())
            assert status == 200, status
            before_rss, before_hwm = rss_kib(worker), rss_kib(worker, "VmHWM")
            sampler = Sampler(worker)
            sampler.start()
            started = time.monotonic()
            status, answer = post(service.port, path, body)
            elapsed = time.monotonic() - started
            time.sleep(0.05)
            sampler.stop.set()
            sampler.join()
            peak = rss_kib(worker, "VmHWM")
            after_rss = rss_kib(worker)
        stored = service.query(
            "from leadpost.records.models import Attachment\n"
            "result = list(Attachment.objects.values_list('state', flat=True))"
        )
    finally:
        service.cleanup()

    body_mib = len(body) / MIB
    peak_mib, before_mib = peak / 1024, before_rss / 1024
    growth_mib = (peak - before_rss) / 1024
    sampled_peak = max((kib for _, kib in sampler.samples), default=0) / 1024
    at = max(sampler.samples, key=lambda s: s[1], default=(0.0, 0))[0]
    files = args.notes * args.files_per_note
    print(
        f"\nPost: {files} files x {args.file_mib:g} MiB "
        f"({'decoded' if args.decoded else 'base64 text'}); body {body_mib:.1f} MiB, "
        f"{decoded / MIB:.1f} MiB of file content once decoded"
    )
    print(
        f"Answer: {status} {answer.get('result')} in {elapsed:.2f} s; warnings: "
        f"{[w.get('code') for w in answer.get('warnings', [])]}"  # type: ignore[union-attr]
    )
    print(f"Attachments stored: {stored.count('stored')} of {files} ({len(stored)} rows)")
    print(
        f"Worker resident memory: {before_mib:.0f} MiB before (high-water mark "
        f"{before_hwm / 1024:.0f} MiB), peak {peak_mib:.0f} MiB (VmHWM; sampled every 2 ms: "
        f"{sampled_peak:.0f} MiB at {at:.2f} s), {after_rss / 1024:.0f} MiB after"
    )
    print(
        f"Peak = {peak_mib / body_mib:.2f} x the body; growth during the post "
        f"{growth_mib:.0f} MiB = {growth_mib / body_mib:.2f} x the body (target: under 4 x)"
    )
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
