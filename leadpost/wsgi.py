import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadpost.settings")
application = get_wsgi_application()

# Load the ZIP index (~40k rows) before the first lead, not during it.
from leadpost.lib.address import zip_info  # noqa: E402

zip_info("52240")
