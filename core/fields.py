import datetime as dt

from django.db import models


class UTCTimestampField(models.DateTimeField):
    """A `timestamp without time zone` column holding UTC.

    The spec types `prices.created_at/updated_at` as TIMESTAMP, not
    TIMESTAMPTZ. Django's DateTimeField maps to timestamptz on PostgreSQL, so
    this field declares the plain type and keeps values aware in Python by
    reading and writing them as UTC.
    """

    def db_type(self, connection):
        return "timestamp"

    def from_db_value(self, value, expression, connection):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value

    def get_db_prep_value(self, value, connection, prepared=False):
        value = super().get_db_prep_value(value, connection, prepared)
        if isinstance(value, dt.datetime) and value.tzinfo:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
