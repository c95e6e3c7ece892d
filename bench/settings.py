"""Settings for benchmark runs: Keel's settings plus the raw-SQL ceiling view."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# Logging every request would measure the terminal, not Keel.
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
