"""Starting and stopping flows, and which flows run now.

A start resets the schedules of the flow's start objects (a start object without a schedule
fires once, now, unless the start is by hand); a stop leaves journeys where they are until the
flow starts again. Both only write state: the worker acts on it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from engine.runtime.firing import first_due
from engine.sdk.campaign import Once
from engine.store import flowstate, triggers

if TYPE_CHECKING:
    from engine.runtime.runner import Runtime

STARTED_TTL = 1.0  # seconds a runtime trusts its list of started flows


def started_flows(runtime: Runtime) -> list[str]:
    """The flows that run now. Read at most once a second: another process's start or
    stop shows within a second, and a busy worker saves a query per batch."""
    moment = time.monotonic()
    if runtime._started is not None and moment - runtime._started[0] < STARTED_TTL:
        return runtime._started[1]
    with runtime.store.db.read() as conn:
        started = [n for n in flowstate.started_flows(conn) if n in runtime.flows]
    runtime._started = (moment, started)
    return started


def start(runtime: Runtime, name: str, *, fire: bool = True) -> None:
    """Start a flow: its schedules, triggers and webhooks act from now on. Start objects
    without a schedule fire once, now (unless ``fire`` is False: a start by hand)."""
    flow = runtime.flow(name)
    now = runtime.clock.now()
    with runtime.store.db.write() as conn:
        runtime._started = None
        flowstate.set_started(conn, name, True, now)
        for oid in flow.starts:
            trigger = flow.instance(oid).trigger()
            if trigger is None:
                continue
            due = first_due(trigger, flow, now) if fire or not isinstance(trigger, Once) else None
            triggers.reset(conn, name, oid, due)


def stop(runtime: Runtime, name: str) -> None:
    """Stop a flow; journeys already in it stay where they are until it starts again."""
    runtime.flow(name)
    with runtime.store.db.write() as conn:
        runtime._started = None
        flowstate.set_started(conn, name, False, runtime.clock.now())
