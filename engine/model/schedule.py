"""Cron schedules for start objects (``schedule: "0 9 * * 1"``), read in the flow's time zone.
croniter is imported by the functions, when a flow has a schedule: every flow's settings
import this module, and croniter (with dateutil) costs a process some 10 ms."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

HINT = (
    "write five fields 'minute hour day month weekday', e.g. '0 9 * * 1' for Mondays at 09:00, "
    "or @hourly, @daily, @weekly, @monthly"
)


def check_cron(expr: str) -> str:
    """Return ``expr`` when it is a valid cron expression; raise ``ValueError`` otherwise."""
    from croniter import croniter

    text = str(expr).strip()
    if len(text.split()) not in (1, 5) or not croniter.is_valid(text):
        raise ValueError(f"'{expr}' is not a valid cron schedule; {HINT}")
    return text


def next_fire(expr: str, after: datetime, timezone: str) -> datetime:
    """The first time strictly after ``after`` that ``expr`` fires, in ``timezone``."""
    from croniter import croniter

    local = after.astimezone(ZoneInfo(timezone))
    result: datetime = croniter(expr, local).get_next(datetime)
    return result
