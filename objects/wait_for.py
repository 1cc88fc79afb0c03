"""``wait-for``: waits for an event (an open, a click, a bounce, an unsubscribe) of a mail of
this flow, at most ``within``; ``yes`` when it came, ``no`` when the time ran out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Literal

from engine.model.durations import format_duration
from engine.model.settings import Duration
from engine.model.validation import did_you_mean
from engine.sdk.batch import Batch, Routing
from engine.sdk.campaign import CampaignObject, ObjectSettings
from engine.sdk.context import RunContext


class WaitForSettings(ObjectSettings):
    type: Literal["wait-for"]
    event: Literal["open", "click", "bounce", "unsubscribe"]
    mail: str | None = None
    within: Duration | None = None


class WaitFor(CampaignObject):
    type = "wait-for"
    Settings = WaitForSettings
    outputs = ("yes", "no")
    pauses = True

    @classmethod
    def check(
        cls, id: str, settings: ObjectSettings, objects: Mapping[str, ObjectSettings]
    ) -> Iterable[tuple[tuple[str | int, ...], str]]:
        assert isinstance(settings, WaitForSettings)
        if settings.mail is not None:
            mails = [oid for oid, s in objects.items() if s.type == "mail"]
            if settings.mail not in mails:
                hint = did_you_mean(settings.mail, mails) or (
                    f"; mail objects here: {', '.join(mails)}" if mails else ""
                )
                yield ("mail",), f"mail '{settings.mail}' is not a mail object of this flow{hint}"

    def run(self, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        settings = self.settings
        assert isinstance(settings, WaitForSettings)
        seen = self._events(batch, ctx)
        within = settings.within
        for journey in batch:
            times = [t for t in seen.get(journey.customer_id, ()) if t >= journey.arrived_at]
            deadline = journey.arrived_at + within if within is not None else None
            span = f" within {format_duration(within)}" if within is not None else ""
            if times and (deadline is None or min(times) <= deadline):
                routing.leave(journey, "yes", f"{settings.event}{span}")
            elif deadline is not None and ctx.now >= deadline:
                routing.leave(journey, "no", f"no {settings.event}{span}")
            else:
                routing.hold(journey, deadline, wake_on=settings.event)

    def _events(self, batch: Batch, ctx: RunContext) -> dict[int, list[datetime]]:
        from sqlalchemy import select

        from engine.store.models import Event

        events = Event.__table__  # type: ignore[attr-defined]

        settings = self.settings
        assert isinstance(settings, WaitForSettings)
        ids = list({j.customer_id for j in batch})
        since = min(j.arrived_at for j in batch)
        found: dict[int, list[datetime]] = {}
        with ctx.store.db.read() as conn:
            for start in range(0, len(ids), 500):
                query = select(events.c.customer_id, events.c.at).where(
                    events.c.kind == settings.event,
                    events.c.customer_id.in_(ids[start : start + 500]),
                    events.c.flow == batch.flow,
                    events.c.at >= since,
                )
                if settings.mail is not None:
                    query = query.where(events.c.object == settings.mail)
                for customer_id, at in conn.execute(query):
                    found.setdefault(customer_id, []).append(at)
        return found
