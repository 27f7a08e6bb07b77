"""The application `leadpost serve` runs: the body-buffering front, then Django in a thread pool.

See leadpost/server.py for the server and leadpost/lib/front.py for why bodies are received here.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadpost.settings")

from a2wsgi import WSGIMiddleware
from django.conf import settings

from leadpost.lib.front import BodyFront
from leadpost.wsgi import application as wsgi_application

application = BodyFront(
    WSGIMiddleware(wsgi_application, workers=settings.LEADPOST_THREADS),  # type: ignore[arg-type]
    lead_limit=settings.LEADPOST_MAX_BODY_BYTES,
    page_limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    body_timeout=settings.LEADPOST_BODY_TIMEOUT,
    memory_budget=settings.LEADPOST_BODY_MEMORY_MB * 1024 * 1024,
    retry_after=settings.LEADPOST_RETRY_AFTER_SECONDS,
)
