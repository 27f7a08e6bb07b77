"""Leadpost's real settings plus `/bench/ping`, for the benchmarks only.

The trivial endpoint runs in the same server, through the same middleware, as the Lead Post
endpoint, so its throughput is the framework's ceiling on this machine in the same run.
BENCH_DB_ENGINE swaps the database backend (e.g. `leadpost.lib.sqlite_backend`) to compare one.
"""

import os

from leadpost.settings import *  # noqa: F403
from leadpost.settings import DATABASES

ROOT_URLCONF = "bench.ping_urls"

if os.environ.get("BENCH_DB_ENGINE"):
    DATABASES["default"]["ENGINE"] = os.environ["BENCH_DB_ENGINE"]
