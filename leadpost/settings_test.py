"""Settings for the test suite: the real settings, with fixed test-only secrets and a fresh data folder.

Secrets here protect nothing: they exist so tests can encrypt and index SSNs as production does.
"""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault(
    "LEADPOST_SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789"
)
os.environ.setdefault("LEADPOST_SSN_KEYS", "dGVzdC1vbmx5LWtleS1mb3ItbGVhZHBvc3QtdGVzdHM=")
os.environ.setdefault("LEADPOST_SSN_INDEX_KEY", "test-only-index-key")
# Marks this process and the servers it starts as the test suite: development-only switches
# (LEADPOST_FETCH_ALLOW_LOOPBACK) are refused anywhere else.
os.environ["LEADPOST_TESTING"] = "1"
# One folder per test run, inherited by servers the tests start as subprocesses; the process that
# made it removes it when it exits.
if "LEADPOST_DATA_DIR" not in os.environ:
    _made = tempfile.mkdtemp(prefix="leadpost-test-")
    os.environ["LEADPOST_DATA_DIR"] = _made
    atexit.register(shutil.rmtree, _made, ignore_errors=True)

from leadpost.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
