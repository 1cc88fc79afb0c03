"""``wait``: holds customers for a duration (``for``), until a date from an expression
(``until``), until the next ``at`` time of day, on allowed weekdays (``days``), in the flow's
time zone or each customer's own (``timezone: customer``)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from engine.sdk import (
    Batch,
    CampaignObject,
    Duration,
    ExpressionText,
    Journey,
    ObjectSettings,
    Routing,
    RunContext,
    check_timezone,
    format_duration,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_AT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class WaitSettings(ObjectSettings):
    type: Literal["wait"]
    for_: Duration | None = Field(default=None, alias="for")
    until: ExpressionText | None = None
    at: str | None = None
    days: list[str] | None = None
    timezone: str | None = None

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, value: Any) -> Any:
        if isinstance(value, int):  # YAML 1.1 reads 09:30 as a sexagesimal number
            value = f"{value // 60:02d}:{value % 60:02d}"
        if value is not None and not _AT.match(str(value)):
            raise ValueError(f"at '{value}' is not a time of day; write HH:MM, e.g. \"09:00\"")
        return value

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",")]
        if value is not None:
            days = [str(v).lower()[:3] for v in value]
            for raw, day in zip(value, days, strict=True):
                if day not in WEEKDAYS:
                    raise ValueError(f"'{raw}' is not a weekday; use {', '.join(WEEKDAYS)}")
            return days
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return value if value in (None, "customer") else check_timezone(value)

    @model_validator(mode="after")
    def _something(self) -> WaitSettings:
        if not (self.for_ or self.until or self.at or self.days):
            raise ValueError("a wait needs 'for', 'until', 'at' or 'days'")
        return self


class Wait(CampaignObject[WaitSettings]):
    type = "wait"
    pauses = True

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        for journey in batch:
            due, why = self.due(journey, ctx)
            if due is None or due <= ctx.now:
                routing.leave(journey, "out", why)
            else:
                routing.hold(journey, due)

    def needs_customers(self) -> bool:
        """Only an ``until`` expression and ``timezone: customer`` read the customer."""
        return self.settings.until is not None or self.settings.timezone == "customer"

    def zone(self, journey: Journey, ctx: RunContext) -> ZoneInfo:
        settings = self.settings
        name = settings.timezone
        if name == "customer":
            name = journey.customer.get("timezone") or None
        try:
            return ZoneInfo(name) if name else ctx.zone
        except (ZoneInfoNotFoundError, ValueError):
            return ctx.zone

    def due(self, journey: Journey, ctx: RunContext) -> tuple[datetime | None, str]:
        """When the journey may go on, and the reason to show then."""
        settings = self.settings
        zone = self.zone(journey, ctx)
        moment = journey.arrived_at
        parts = []
        if settings.for_ is not None:
            moment = moment + settings.for_
            parts.append(f"waited {format_duration(settings.for_)}")
        if settings.until is not None:
            value = settings.until.evaluate(ctx.scope(journey))
            until = _as_moment(value, zone)
            if until is None:
                return None, f"not waiting: {settings.until} gave no date"
            moment = max(moment, until)
            parts.append(f"waited until {until.astimezone(zone):%Y-%m-%d %H:%M}")
        if settings.at is not None or settings.days:
            moment = _next_slot(moment, settings.at, settings.days, zone)
            label = f"{moment.astimezone(zone):%a %Y-%m-%d %H:%M} {zone.key}"
            parts.append(f"waited until {label}")
        # the last part is the one that decided: "waited 1w; waited until Tue 10:00" says less
        # than "waited until Tue 2026-01-13 10:00 Europe/Amsterdam"
        return moment, parts[-1] if parts else "waited"


def _as_moment(value: Any, zone: ZoneInfo) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=zone)
    return None


def _next_slot(
    moment: datetime, at: str | None, days: list[str] | None, zone: ZoneInfo
) -> datetime:
    """The first moment at or after ``moment`` that falls on an allowed day (at ``at``)."""
    local = moment.astimezone(zone)
    slot = None
    if at:
        hour, minute = (int(part) for part in at.split(":")[:2])
        slot = time(hour, minute)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if days and WEEKDAYS[day.weekday()] not in days:
            continue
        if slot is not None:
            candidate = datetime.combine(day, slot, tzinfo=zone)
        else:
            candidate = local if offset == 0 else datetime.combine(day, time(0), tzinfo=zone)
        # a time of day that does not exist (DST gap) is taken after the jump
        candidate = candidate.astimezone(zone)
        if candidate >= local:
            return candidate
    return local
