"""Log lines that say which request they belong to (docs/deploy.md, "Health and logs").

`RequestIdFilter` (on the console handler, settings.LOGGING) gives every record a
`request_id`: the current request's (core/context.py), or "-" outside a request. With
LOG_FORMAT=json (production's default) each line is one JSON object, through
python-json-logger's formatter: `time`, `level`, `logger`, `message`, `request_id`, and
`exc_info` for an exception. Nothing here adds personal data: no address, no user.
"""

import logging

from core.context import request_id


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id() or "-"
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
