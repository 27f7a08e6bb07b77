import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadpost.settings")
application = get_wsgi_application()

# Load the ZIP index (~40k rows) before the first lead, not during it.
from leadpost.lib.address import zip_info  # noqa: E402

zip_info("52240")

# Everything loaded so far (Django, the apps, the ZIP index: ~1M objects) lives as long as the
# process: kept out of the garbage collector's full passes, which otherwise stop a worker for
# 100 ms and more at random moments (bench/README.md).
gc.collect()
gc.freeze()
