"""Keel's server in the benchmark: Keel's own settings, as production would run them, quiet logs."""

import warnings

from config.settings import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# Logging every request would measure the terminal, not Keel.
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
# `collectstatic` has not run for the benchmark; whitenoise says so once per worker.
warnings.filterwarnings("ignore", message="No directory at", module="whitenoise")
