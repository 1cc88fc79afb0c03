"""Receiving a webhook call: store the customers and records of the payload and start the flow
for them, all in one transaction, once per event id.

The HTTP side (authentication, body limits) lives in ``api``; this module is what a call does
to the store, so replay and tests can drive it without HTTP. A body is one payload (a JSON
object) or an array of them: each is one customer upsert, its records, and one journey whose
entry data is that payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select

from engine.batch import Entry
from engine.errors import SluisError
from engine.flow import Flow
from engine.payload import Mapped, PayloadError, PayloadMap, PayloadProblem, map_payload
from engine.runtime import Runtime
from engine.store.customers import upsert_customers
from engine.store.models import FlowState, WebhookDelivery
from engine.store.records import upsert_records

if TYPE_CHECKING:
    from engine.project import Project

DELIVERIES = WebhookDelivery.__table__  # type: ignore[attr-defined]
FLOWS = FlowState.__table__  # type: ignore[attr-defined]


class FlowNotStarted(SluisError):
    """The webhook's flow is stopped: the call is refused and nothing is stored, so the
    sender's retry delivers it once the flow is started."""


@dataclass(frozen=True)
class WebhookSpec:
    """One webhook start object: its endpoint, flow, object and payload mapping."""

    endpoint: str
    flow: Flow
    object_id: str
    payload: PayloadMap


@dataclass(frozen=True)
class ItemReceipt:
    """What one payload stored: its customer, records and journey (none when the flow's
    reentry rule kept the customer out). ``duplicate``: the event id was handled before, and
    these are the ids of that first delivery."""

    event_id: str | None
    customer: int
    records: list[int]
    journeys: list[int]
    duplicate: bool = False


def map_body(spec: WebhookSpec, body: Any, project: Project) -> list[Mapped]:
    """Map a body (one payload or an array of them); ``PayloadError`` lists every problem."""
    payloads = body if isinstance(body, list) else [body]
    if not payloads:
        raise PayloadError([PayloadProblem((), "the array holds no payload", "wrong_type")])
    mapped: list[Mapped] = []
    problems: list[PayloadProblem] = []
    for index, payload in enumerate(payloads):
        at: tuple[int, ...] = (index,) if isinstance(body, list) else ()
        try:
            mapped.append(map_payload(payload, spec.payload, project, at))
        except PayloadError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PayloadError(problems)
    return mapped


def receive(
    conn: Connection, runtime: Runtime, spec: WebhookSpec, items: Sequence[Mapped]
) -> list[ItemReceipt]:
    """Store mapped payloads and enter their customers, in the caller's transaction. A
    payload whose event id was handled before changes nothing and answers the first ids."""
    started = conn.execute(select(FLOWS.c.started).where(FLOWS.c.flow == spec.flow.name)).scalar()
    if not started:
        raise FlowNotStarted(
            f"flow '{spec.flow.name}' is not started, so webhook '{spec.endpoint}' stores "
            f"nothing; start it with 'sluis start {spec.flow.name}' (the sender's retry "
            "then goes through)"
        )
    project = runtime.store.project
    now = runtime.clock.now()
    receipts: list[ItemReceipt] = []
    for item in items:
        if item.event_id is not None:
            earlier = conn.execute(
                select(DELIVERIES.c.result).where(
                    DELIVERIES.c.endpoint == spec.endpoint,
                    DELIVERIES.c.event_id == item.event_id,
                )
            ).scalar()
            if earlier is not None:
                receipts.append(ItemReceipt(item.event_id, duplicate=True, **earlier))
                continue
        [(customer_id, _)] = upsert_customers(
            conn, [item.customer], key=spec.payload.key, project=project, now=now
        )
        record_ids: list[int] = []
        for collection, data in item.records:
            [(record_id, _)] = upsert_records(
                conn, collection, [(data, customer_id)], project=project, now=now
            )
            record_ids.append(record_id)
        journeys = runtime.enter_in(
            conn, spec.flow, spec.object_id, [Entry(customer_id, item.payload)]
        )
        receipt = ItemReceipt(item.event_id, customer_id, record_ids, journeys)
        if item.event_id is not None:
            conn.execute(
                insert(DELIVERIES).values(
                    endpoint=spec.endpoint,
                    event_id=item.event_id,
                    result={
                        "customer": customer_id,
                        "records": record_ids,
                        "journeys": journeys,
                    },
                    at=now,
                )
            )
        receipts.append(receipt)
    return receipts
