"""Leadpost's real settings plus `/bench/ping`, for the benchmarks only.

The trivial endpoint runs in the same server, through the same middleware, as the Lead Post
endpoint, so its throughput is the framework's ceiling on this machine in the same run.
To compare a setting before proposing it: BENCH_DB_ENGINE swaps the database backend (e.g.
a custom SQLite backend of your own), BENCH_DB_SETTINGS (a JSON object) sets keys of the database's
settings (e.g. CONN_HEALTH_CHECKS) and BENCH_DB_OPTIONS (a JSON object) adds to its OPTIONS.
"""

import json
import os

from leadpost.settings import *  # noqa: F403
from leadpost.settings import DATABASES

ROOT_URLCONF = "bench.ping_urls"

if os.environ.get("BENCH_DB_ENGINE"):
    DATABASES["default"]["ENGINE"] = os.environ["BENCH_DB_ENGINE"]
if os.environ.get("BENCH_DB_OPTIONS"):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        json.loads(os.environ["BENCH_DB_OPTIONS"])
    )
if os.environ.get("BENCH_DB_SETTINGS"):
    DATABASES["default"].update(json.loads(os.environ["BENCH_DB_SETTINGS"]))
