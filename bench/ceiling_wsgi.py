"""The ceiling's own server process: `gunicorn bench.ceiling_wsgi` (bench/ceiling_settings.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.ceiling_settings"

application = get_wsgi_application()
