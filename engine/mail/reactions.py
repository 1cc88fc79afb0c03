"""What recipients do with a mail: opens, clicks and unsubscribes, recorded as events through
``Runtime.record_events`` so they wake ``wait-for`` journeys and enter ``event`` start objects.
The tracking routes call these after checking a link's signature."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from engine.mail.tracking import MailRef
from engine.runtime.runner import IncomingEvent, Runtime
from engine.store.models import CUSTOMERS, JOURNEYS, SEND_LOG

LOG = SEND_LOG


@dataclass(frozen=True)
class SentMail:
    """The mail a tracking link belongs to."""

    customer_id: int
    flow: str
    object: str
    message_id: str | None


def sent_mail(runtime: Runtime, ref: MailRef) -> SentMail | None:
    """The mail of ``ref``, or None when its journey is gone (the customer was erased)."""
    with runtime.store.db.read() as conn:
        journey = conn.execute(
            select(JOURNEYS.c.customer_id, JOURNEYS.c.flow).where(JOURNEYS.c.id == ref.journey_id)
        ).first()
        if journey is None:
            return None
        message_id = conn.execute(
            select(LOG.c.message_id).where(
                LOG.c.journey_id == ref.journey_id, LOG.c.object == ref.object
            )
        ).scalar()
    return SentMail(journey.customer_id, journey.flow, ref.object, message_id)


def record(
    runtime: Runtime, ref: MailRef, kind: str, data: Mapping[str, Any] | None = None
) -> SentMail | None:
    """Record an ``open`` or ``click`` (with its data) of the mail of ``ref``."""
    mail = sent_mail(runtime, ref)
    if mail is not None:
        runtime.record_events([_event(runtime, mail, kind, data or {})])
    return mail


def unsubscribe(runtime: Runtime, ref: MailRef) -> SentMail | None:
    """Unsubscribe the recipient of ``ref`` from all mail; the event is recorded only the
    first time (a second click changes nothing)."""
    mail = sent_mail(runtime, ref)
    if mail is None:
        return None
    with runtime.store.db.write() as conn:
        changed = conn.execute(
            update(CUSTOMERS)
            .where(CUSTOMERS.c.system_id == mail.customer_id, CUSTOMERS.c.unsubscribed.is_(False))
            .values(unsubscribed=True, updated_at=runtime.clock.now())
        ).rowcount
    if changed:
        data = {"scope": "all", "via": "list-unsubscribe"}
        runtime.record_events([_event(runtime, mail, "unsubscribe", data)])
    return mail


def _event(runtime: Runtime, mail: SentMail, kind: str, data: Mapping[str, Any]) -> IncomingEvent:
    return IncomingEvent(
        kind,
        mail.customer_id,
        runtime.clock.now(),
        flow=mail.flow,
        object=mail.object,
        data={"message_id": mail.message_id, **data},
    )
