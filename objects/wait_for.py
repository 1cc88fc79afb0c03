"""``wait-for``: waits for an event (an open, a click, a bounce, an unsubscribe) of a mail of
this flow, at most ``within``; ``yes`` when it came, ``no`` when the time ran out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from engine.sdk import (
    Batch,
    CampaignObject,
    Duration,
    ObjectSettings,
    Routing,
    RunContext,
    did_you_mean,
    format_duration,
)


class WaitForSettings(ObjectSettings):
    type: Literal["wait-for"]
    event: Literal["open", "click", "bounce", "unsubscribe"]
    mail: str | None = None
    within: Duration | None = None


class WaitFor(CampaignObject[WaitForSettings]):
    type = "wait-for"
    outputs = ("yes", "no")
    pauses = True
    reads_customers = False  # it reads the customers' events, not their fields

    @classmethod
    def check(
        cls, id: str, settings: WaitForSettings, objects: Mapping[str, ObjectSettings]
    ) -> Iterable[tuple[tuple[str | int, ...], str]]:
        if settings.mail is not None:
            mails = [oid for oid, s in objects.items() if s.type == "mail"]
            if settings.mail not in mails:
                hint = did_you_mean(settings.mail, mails) or (
                    f"; mail objects here: {', '.join(mails)}" if mails else ""
                )
                yield ("mail",), f"mail '{settings.mail}' is not a mail object of this flow{hint}"

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        settings = self.settings
        seen = ctx.events.times(
            settings.event,
            list({j.customer_id for j in batch}),
            since=min(j.arrived_at for j in batch),
            object_id=settings.mail,
        )
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
