"""Firing start objects: those whose schedule is due ask "what enters now?", and the
customers they name enter, all in one transaction (the object makes its entries inside it, or
names a segment the database enters at once); a firing that fails leaves nothing behind but a
``failed`` event and the next due time."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from engine.errors import DatabaseError, SluisError, TransientError
from engine.model.flow import Flow
from engine.model.retries import RetrySettings
from engine.model.schedule import next_fire
from engine.runtime.entering import after_commit, enter, enter_from, enter_segment
from engine.sdk.batch import chunks_of
from engine.sdk.campaign import CronTrigger, Every, Once, Trigger
from engine.store import triggers
from engine.store.events import EventRecord, add_events

if TYPE_CHECKING:
    from engine.runtime.runner import Runtime

log = logging.getLogger("sluis.runtime")
ENTER_CHUNK = 10_000  # journeys made per statement when a start object fires
BULK_ENTRY = 10_000  # a firing entering this many refreshes the journeys' statistics


def fire_due(runtime: Runtime) -> int:
    """Fire every start object whose time has come; return how many customers entered."""
    now = runtime.clock.now()
    started = runtime.started_flows()
    if not started:
        return 0
    with runtime.store.db.read() as conn:
        due = triggers.due(conn, started, now)
    entered = 0
    for row in due:
        flow = runtime.flows[row.flow]
        if row.object not in flow.objects:
            continue
        obj = flow.instance(row.object)
        ctx = runtime.context(flow, row.object)
        trigger = obj.trigger()
        due_next = next_due(trigger, flow, row.due_at, now) if trigger else None
        fired = 0
        try:
            with runtime.store.db.write() as conn, ctx.inside(conn):
                segment = obj.segment()
                if segment is not None:
                    fired += enter_segment(conn, flow, row.object, segment, ctx, now)
                else:
                    seen: set[int] = set()
                    # entries come as the object makes them (an import stores its rows in
                    # this transaction), a chunk at a time: memory stays small
                    for part in chunks_of(obj.entries(ctx=ctx), ENTER_CHUNK):
                        fired += len(enter(conn, flow, row.object, part, now, seen))
                fired += enter_from(conn, flow, row.object, ctx, now)
                triggers.fired(conn, row.flow, row.object, now, due_next)
        except DatabaseError:  # not the object's failure: the worker fires it again
            raise
        except SluisError as exc:
            # nothing of this firing stands; say why where operators look, and go on (a
            # transient failure fires again after the object's backoff, ``retries`` times)
            log.warning("start object %s of flow %s failed: %s", row.object, flow.name, exc)
            with runtime.store.db.write() as conn:
                why: dict[str, object] = {"reason": f"failed: {exc}"}
                settings = obj.settings
                if isinstance(exc, TransientError) and isinstance(settings, RetrySettings):
                    tries = triggers.tries_failed(conn, row.flow, row.object).then(1, now)
                    why["tries"] = tries.made
                    why["first"] = tries.first.isoformat() if tries.first else None
                    if tries.made <= settings.retries:
                        again = now + settings.wait(tries.made, asked=exc.later)
                        due_next = again if due_next is None else min(due_next, again)
                    else:
                        why["reason"] = f"failed: {exc} {tries.over(now)}"
                triggers.fired(conn, row.flow, row.object, now, due_next)
                failed = EventRecord("failed", now, flow=flow.name, object=row.object, data=why)
                add_events(conn, [failed])
            continue
        entered += fired
        if fired >= BULK_ENTRY:
            runtime.store.db.analyze("journeys")
        after_commit(ctx)
    return entered


def first_due(trigger: Trigger, flow: Flow, now: datetime) -> datetime:
    """When a start object fires first after a start at ``now``."""
    if isinstance(trigger, CronTrigger):
        return next_fire(trigger.expr, now - timedelta(microseconds=1), flow.timezone)
    return now


def next_due(trigger: Trigger, flow: Flow, due: datetime, now: datetime) -> datetime | None:
    """When a start object due at ``due`` and fired at ``now`` fires again, or None."""
    if isinstance(trigger, Once):
        return None
    if isinstance(trigger, CronTrigger):
        return next_fire(trigger.expr, max(due, now), flow.timezone)
    assert isinstance(trigger, Every)
    return now + trigger.interval
