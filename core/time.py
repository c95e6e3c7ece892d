"""Epoch-millisecond timestamps: the one place Keel turns clocks into BIGINTs.

Every BIGINT timestamp column (created_at, expires_at, current_period_end, ...)
holds epoch milliseconds. Stripe speaks seconds; convert at that boundary with
`ms_from_seconds`.
"""

import datetime as dt
import time

MS_PER_SECOND = 1000
MS_PER_DAY = 86_400_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ms_from_seconds(seconds: int | None) -> int | None:
    return None if seconds is None else int(seconds) * MS_PER_SECOND


def ms_to_datetime(ms: int | None) -> dt.datetime | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / MS_PER_SECOND, tz=dt.UTC)


def datetime_to_ms(value: dt.datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("naive datetime: Keel timestamps are always timezone-aware")
    return int(value.timestamp() * MS_PER_SECOND)
