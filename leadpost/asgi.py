"""The application `leadpost serve` runs: the body-buffering front, then Django in a thread pool.

See leadpost/server.py for the server, leadpost/lib/front.py for why bodies are received here and
leadpost/lib/wsgithreads.py for how Django runs behind it.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadpost.settings")

from django.conf import settings

from leadpost.lib.front import BodyFront
from leadpost.lib.wsgithreads import ThreadedWSGI
from leadpost.wsgi import application as wsgi_application

application = BodyFront(
    ThreadedWSGI(wsgi_application, threads=settings.LEADPOST_THREADS),
    lead_limit=settings.LEADPOST_MAX_BODY_BYTES,
    page_limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    body_timeout=settings.LEADPOST_BODY_TIMEOUT,
    memory_budget=settings.LEADPOST_BODY_MEMORY_MB * 1024 * 1024,
    retry_after=settings.LEADPOST_RETRY_AFTER_SECONDS,
)
