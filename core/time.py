"""Epoch-millisecond timestamps: the one place Keel turns clocks into BIGINTs.

Every BIGINT timestamp column (created_at, expires_at, current_period_end, ...)
holds epoch milliseconds. Stripe speaks seconds: convert at that boundary.
"""

import datetime as dt
import time

MS_PER_SECOND = 1000
MS_PER_DAY = 86_400_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ms_to_datetime(ms: int | None) -> dt.datetime | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / MS_PER_SECOND, tz=dt.UTC)
