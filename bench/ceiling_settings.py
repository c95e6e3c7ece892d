"""The ceiling's settings: Django with nothing a consumption does not need.

No installed apps, no middleware, no templates, no sessions, no authentication:
one URL, one view (bench/views.py), the same database as Keel's server, with
persistent connections. `BENCH_PREPARED=1` makes its statements prepared
(bench/views.py), as Keel's hot paths are: the one database option that could
make the ceiling cheaper (the benchmark measures both and keeps the faster).
"""

import os

import environ

env = environ.Env()

SECRET_KEY = "bench-ceiling-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.ceiling_urls"
USE_TZ = True
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = 600
if os.environ.get("BENCH_PREPARED") == "1":
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
