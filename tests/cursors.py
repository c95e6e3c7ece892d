"""Pagination cursors a client might forge, for every paginated list's tests."""

import base64


def forged_cursor(querystring: str) -> str:
    return base64.b64encode(querystring.encode()).decode()


# Not a number, not an integer, past BIGINT, non-ASCII digits, not base64, a negative offset,
# a non-numeric reverse flag.
BAD_CURSORS = [
    forged_cursor("p=abc"),
    forged_cursor("p=1e400"),
    forged_cursor("p=1.5"),
    forged_cursor(f"p={2**63}"),
    forged_cursor("p=\u0661\u0662"),
    "zzz",
    forged_cursor("o=-1"),
    forged_cursor("r=x&p=1"),
]
