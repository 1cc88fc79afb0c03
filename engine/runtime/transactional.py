"""A mail object of a flow sent to one customer now (an order confirmation outside a flow's
schedule), by the same rules as in the flow: the customer gets a journey that stands at the
mail object, the object itself runs on that one journey (so the send log keeps it to one
mail per journey, unsubscribes and bounces skip it, links are tracked, a ``sent`` event is
recorded), and the journey ends there with the object's output as its step.

A caller's idempotency key names the journey: the same key again finds it, and the send log
answers what happened instead of sending a second mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from engine.errors import InputError
from engine.model.flow import Flow
from engine.runtime.entering import after_commit
from engine.sdk.batch import Batch, Fail, Hold, Journey, Leave, Routing
from engine.sdk.context import RunContext
from engine.sdk.effects import Effects
from engine.store import journeys as sql
from engine.store.customers import load_customers
from engine.store.models import STEPS, TRANSACTIONAL_SENDS

if TYPE_CHECKING:
    from engine.runtime.runner import Runtime

SENDS = TRANSACTIONAL_SENDS
VIA = "api"


@dataclass(frozen=True)
class Sent:
    journey_id: int
    outcome: str  # sent | skipped | held (not accepted yet: retry) | failed
    reason: str
    repeated: bool  # the key was seen before


def _journey(
    runtime: Runtime, flow: Flow, object_id: str, customer_id: int, key: str | None, data: Any
) -> tuple[int, bool]:
    """The journey of this key (made when new); (id, seen before)."""
    now = runtime.clock.now()
    with runtime.store.db.write() as conn:
        if key is not None:
            found = conn.execute(select(SENDS).where(SENDS.c.key == key)).first()
            if found is not None:
                if (found.flow, found.object, found.customer_id) != (
                    flow.name,
                    object_id,
                    customer_id,
                ):
                    raise InputError(
                        f"key '{key}' was used for {found.flow}/{found.object} to customer "
                        f"{found.customer_id}; a key names one mail, use a new one"
                    )
                return int(found.journey_id), True
        new = sql.NewJourney(customer_id, data, VIA, "sent by API", output=None, target=None)
        [journey_id] = sql.enter(conn, flow.name, object_id, [new], now)
        if key is not None:
            conn.execute(
                insert(SENDS).values(
                    key=key,
                    flow=flow.name,
                    object=object_id,
                    customer_id=customer_id,
                    journey_id=journey_id,
                    created_at=now,
                )
            )
    return journey_id, False


def send_now(
    runtime: Runtime,
    effects: Effects,
    flow: Flow,
    object_id: str,
    customer_id: int,
    *,
    key: str | None = None,
    data: dict[str, Any] | None = None,
) -> Sent:
    """Send mail object ``object_id`` of ``flow`` to one customer now."""
    spec = flow.objects.get(object_id)
    if spec is None or spec.type != "mail":
        mails = [o.id for o in flow.objects.values() if o.type == "mail"]
        raise InputError(
            f"'{object_id}' is not a mail object of {flow.name}; its mail objects: "
            + (", ".join(mails) or "none")
        )
    journey_id, repeated = _journey(runtime, flow, object_id, customer_id, key, data or {})
    if repeated:
        settled = _settled(runtime, journey_id, object_id)
        if settled is not None:
            return Sent(journey_id, settled[0], settled[1], repeated)
    now = runtime.clock.now()
    with runtime.store.db.read() as conn:
        customer = load_customers(conn, [customer_id], runtime.store.project)[customer_id]
    journey = Journey(journey_id, customer, dict(data or {}), now, now, VIA)
    ctx = RunContext(
        now=now,
        project=runtime.store.project,
        flow=flow,
        object_id=object_id,
        store=runtime.store,
        effects=effects,
    )
    routing = Routing(spec.outputs, object_id)
    batch = Batch(flow.name, object_id, f"{flow.name}.{object_id}.api{journey_id}", [journey])
    flow.instance(object_id).run(batch=batch, routing=routing, ctx=ctx)
    outcome, output, reason = _decided(routing, journey_id, now)
    with runtime.store.db.write() as conn:
        for change in ctx.writes:
            change(conn)
        conn.execute(
            update(STEPS)
            .where(STEPS.c.journey_id == journey_id, STEPS.c.object == object_id)
            .values(output=output, reason=reason)
        )
    after_commit(ctx)
    return Sent(journey_id, outcome, reason, repeated)


def _settled(runtime: Runtime, journey_id: int, object_id: str) -> tuple[str, str] | None:
    """(outcome, reason) of a journey whose mail was settled (sent or skipped) before."""
    query = select(STEPS.c.output, STEPS.c.reason).where(
        STEPS.c.journey_id == journey_id, STEPS.c.object == object_id
    )
    with runtime.store.db.read() as conn:
        row = conn.execute(query).first()
    if row is None or row.output is None:
        return None  # held or failed before: the send log decides on this try
    return str(row.output), str(row.reason)


def _decided(routing: Routing, journey_id: int, now: datetime) -> tuple[str, str | None, str]:
    """(outcome, the step's output, reason) of the object's decision on the journey."""
    decision = routing.decisions.get(journey_id)
    if isinstance(decision, Leave):
        return decision.output or "sent", decision.output, decision.reason
    if isinstance(decision, Hold):
        until = f" (retry after {decision.until:%Y-%m-%d %H:%M} UTC)" if decision.until else ""
        return "held", None, f"not accepted yet{until}; send again with the same key"
    if isinstance(decision, Fail):
        return "failed", None, decision.reason
    return "failed", None, "the mail object made no decision"
