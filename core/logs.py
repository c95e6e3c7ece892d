"""Log lines that say which request they belong to (docs/deploy.md, "Health and logs").

`RequestIdFilter` (on the console handler, settings.LOGGING) gives every record a
`request_id`: the current request's (core/context.py), or "-" outside a request. With
LOG_FORMAT=json (production's default) each line is one JSON object, through
python-json-logger's formatter: `time`, `level`, `logger`, `message`, `request_id`, and
`exc_info` for an exception. Nothing here adds personal data (no address, no user), and the
tokens in link paths are taken out (`redact`).
"""

import logging
import re

from core.context import request_id

# Paths whose segments are secrets: email verification, unsubscribe, password reset and invitation
# links carry a token, a webhook endpoint's URL its uuid. Django logs a path on every 4xx and 5xx
# ("Not Found: /accounts/verify/<token>/"): the secret part becomes `[redacted]`.
SECRET_PATHS = re.compile(
    r"(?P<prefix>/(?:verify|unsubscribe|accept|webhook)/)[^/?#\s'\"]+"
    r"|(?P<reset>/password/reset/)(?!sent/)[^/?#\s'\"]+/[^/?#\s'\"]+"
)


def redact(text: str) -> str:
    return SECRET_PATHS.sub(lambda m: (m.group("prefix") or m.group("reset")) + "[redacted]", text)


class RequestIdFilter(logging.Filter):
    """Adds `request_id`; takes the secrets out of the paths a record names (`redact`), and drops
    the request object Django attaches to its `django.request` lines (its repr is the full path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id() or "-"
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        if hasattr(record, "request"):
            del record.request
        return True


def logging_config(*, log_format: str, level: str) -> dict:
    """settings.LOGGING for `plain` (development) or `json` (production) lines."""
    formatters = {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    }
    if log_format not in formatters:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"LOG_FORMAT must be `plain` or `json`, not {log_format!r}.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "core.logs.RequestIdFilter"}},
        "formatters": {log_format: formatters[log_format]},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["request_id"]},
        },
        "root": {"handlers": ["console"], "level": level},
        # axes logs every sign-in at INFO; its warnings (failures, lockouts) carry hashes only.
        # The stripe library logs two INFO lines per request (URLs, no secrets).
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "axes": {"level": "WARNING"},
            "stripe": {"level": "WARNING"},
        },
    }
