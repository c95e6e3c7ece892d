"""What the organization dashboard (/o/<slug>/, `credits.views.dashboard`) shows beyond plain reads:
the usage chart's data, the low-balance rule, and the panels other apps add to the page."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache, cached_property

from django.conf import settings
from django.utils.module_loading import import_string

from credits.selectors import UsageWindow

CHART_DAYS = 30
EPOCH = dt.date(1970, 1, 1)  # UTC day 0 of `UsageWindow`
# More members than this in the chart: the busiest CHART_SERIES - 1, then one series for the rest.
CHART_SERIES = 8

# "Low": the balance is below LOW_BALANCE_FLOOR credits, or below LOW_BALANCE_PERCENT % of the
# credits granted in the last CHART_DAYS days (the usual monthly refill of a subscription, or the
# packs bought lately), whichever is higher (docs/credits.md, "Pages, admin, commands").
LOW_BALANCE_FLOOR = 10
LOW_BALANCE_PERCENT = 10


def low_balance_threshold(*, granted_recently: int) -> int:
    return max(LOW_BALANCE_FLOOR, granted_recently * LOW_BALANCE_PERCENT // 100)


def balance_is_low(*, balance: int, granted_recently: int) -> bool:
    return balance < low_balance_threshold(granted_recently=granted_recently)


@dataclass
class Series:
    label: str
    data: list[int]
    own: bool = False

    @property
    def total(self) -> int:
        return sum(self.data)


@dataclass
class UsageChart:
    days: list[dt.date]
    series: list[Series] = field(default_factory=list)

    @cached_property
    def totals(self) -> list[int]:
        return [sum(values) for values in zip(*(s.data for s in self.series), strict=True)] or [0] * len(self.days)

    @property
    def total(self) -> int:
        return sum(s.total for s in self.series)

    @property
    def busiest(self) -> tuple[dt.date, int] | None:
        totals = self.totals
        peak = max(totals, default=0)
        return (self.days[totals.index(peak)], peak) if peak else None

    def rows(self) -> list[tuple[str, int]]:
        """Per day: the date (ISO, formatted here: 30 `|date` filters cost more than the rest of
        the table) and the credits used, for the table beside the chart."""
        return [(day.isoformat(), total) for day, total in zip(self.days, self.totals, strict=True)]

    def as_json(self) -> dict:
        """What `static/js/dashboard.js` draws (through `json_script`)."""
        return {
            "days": [day.isoformat() for day in self.days],
            "series": [{"label": s.label, "data": s.data, "own": s.own} for s in self.series],
            "total": self.total,
        }


def usage_chart(rows, *, window: UsageWindow, names: dict, viewer_id) -> UsageChart:
    """The chart from `credits_used_per_day`'s rows: every day of the window (zero where nothing was
    used), one series per member, the busiest first; past CHART_SERIES members the rest are one
    series. `names`: user id -> label; the viewer's series is "You"."""
    index = {day: i for i, day in enumerate(window.day_numbers)}
    per_user: dict = defaultdict(lambda: [0] * window.days)
    for day, user_id, used in rows:
        if day in index:
            per_user[user_id][index[day]] += used
    ranked = sorted(per_user.items(), key=lambda item: (-sum(item[1]), item[0] != viewer_id, str(item[0])))
    series = [
        Series(label="You" if user_id == viewer_id else names.get(user_id, "?"), data=data, own=user_id == viewer_id)
        for user_id, data in ranked
    ]
    if len(series) > CHART_SERIES:
        shown, rest = series[: CHART_SERIES - 1], series[CHART_SERIES - 1 :]
        others = Series(
            label=f"{len(rest)} other members", data=[sum(day) for day in zip(*(s.data for s in rest), strict=True)]
        )
        series = [*shown, others]
    return UsageChart(days=[EPOCH + dt.timedelta(days=n) for n in window.day_numbers], series=series)


# Panels: settings.KEEL_DASHBOARD_PANELS names callables `panel(*, member) -> dict | None` in
# apps above credits (billing's plan), which credits cannot import. Each returns
# {"template": ..., "context": {...}} to show, or None to show nothing. `core.checks` imports
# them at start-up; here they are imported once per list of paths.


@cache
def _panels(paths: tuple[str, ...]) -> tuple:
    return tuple(import_string(path) for path in paths)


def dashboard_panels(*, member) -> list[dict]:
    found = (panel(member=member) for panel in _panels(tuple(settings.KEEL_DASHBOARD_PANELS)))
    return [panel for panel in found if panel]
