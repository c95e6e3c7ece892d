"""Counting the queries of one request, for the tests that pin pages and endpoints."""

from django.db import connection
from django.test.utils import CaptureQueriesContext


def queries_of(client, url) -> int:
    """The queries `client.get(url)` runs; the response must be a 200."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)
