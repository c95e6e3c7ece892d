"""The ceiling: the least a consumption can do, in raw SQL, in a Django view with no middleware.

One grant row locked, decremented, and one ledger row inserted, in one
transaction; no authentication, no validation, no ORM, no JSON. It runs in its
own server process (bench/ceiling_wsgi.py, bench/ceiling_settings.py), and
Keel's real consume endpoint is measured against it.
"""

import os
import uuid
from contextlib import contextmanager

from django.db import connection, transaction
from django.http import HttpResponse

from core.time import now_ms

# bench/ceiling_settings.py: with BENCH_PREPARED=1, statements are prepared by psycopg (a
# server-side binding cursor, as Keel's hot paths use), else sent as Django sends them.
PREPARED = os.environ.get("BENCH_PREPARED") == "1"


@contextmanager
def _cursor():
    if not PREPARED:
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    with ServerBindingCursor(connection.connection) as cursor:
        yield cursor


def raw_consume(request):
    grant_id = request.headers["X-Grant"]
    with transaction.atomic(), _cursor() as cursor:
        cursor.execute("SELECT tenant_id, user_id FROM credits WHERE id = %s FOR UPDATE", [grant_id])
        tenant_id, user_id = cursor.fetchone()
        cursor.execute("UPDATE credits SET remaining_credits = remaining_credits - 1 WHERE id = %s", [grant_id])
        cursor.execute(
            "INSERT INTO credit_transactions"
            " (id, user_id, tenant_id, credit_id, credits, type, description, created_at)"
            " VALUES (%s, %s, %s, %s, -1, 'deduct', 'bench', %s)",
            [uuid.uuid4(), user_id, tenant_id, grant_id, now_ms()],
        )
    return HttpResponse(status=201)


def healthz(request):
    return HttpResponse("ok")
