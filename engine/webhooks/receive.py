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

from engine.errors import SluisError
from engine.model.flow import Flow
from engine.runtime.runner import Runtime
from engine.sdk.batch import Entry
from engine.store.customers import upsert_customers
from engine.store.models import JOURNEYS, WEBHOOK_DELIVERIES
from engine.store.raw import among, fetch, json_value
from engine.store.records import upsert_records
from engine.webhooks.payload import Mapped, PayloadError, PayloadMap, PayloadProblem, map_payload

if TYPE_CHECKING:
    from engine.model.project import Project

DELIVERIES = WEBHOOK_DELIVERIES


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
    retried: bool = False  # a redelivery whose first delivery's journey failed: it runs again


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


def delivery_ids(message_id: str | None, items: Sequence[Mapped]) -> None:
    """Give payloads without an event id the sender's message id (Standard Webhooks'
    ``webhook-id``, the same on every retry of a message) as theirs: ``ID`` for a lone
    payload, ``ID/0``, ``ID/1``... for the payloads of an array."""
    if not message_id:
        return
    for index, item in enumerate(items):
        if item.event_id is None:
            item.event_id = message_id if len(items) == 1 else f"{message_id}/{index}"


def receive(
    conn: Connection, runtime: Runtime, spec: WebhookSpec, items: Sequence[Mapped]
) -> list[ItemReceipt]:
    """Store mapped payloads and enter their customers, in the caller's transaction, with a
    few set-based statements however many payloads there are (so calls that arrive together
    can be written together). The result is as if the payloads came one by one, in order: a
    payload whose event id was handled before (or earlier in ``items``) changes nothing and
    answers the ids of that first delivery."""
    started = fetch(conn, "SELECT started FROM flow_states WHERE flow = ?", (spec.flow.name,))
    if not (started and started[0][0]):
        raise FlowNotStarted(
            f"flow '{spec.flow.name}' is not started, so webhook '{spec.endpoint}' stores "
            f"nothing; start it with 'sluis start {spec.flow.name}' (the sender's retry "
            "then goes through)"
        )
    earlier = _deliveries(conn, spec.endpoint, [i.event_id for i in items])
    retried = _retried(conn, runtime, spec, earlier)
    fresh: list[int] = []  # positions in items of the payloads to store
    first_of: dict[str, int] = {}  # event id -> position of its first payload here
    for position, item in enumerate(items):
        if item.event_id is None:
            fresh.append(position)
        elif item.event_id not in earlier and item.event_id not in first_of:
            first_of[item.event_id] = position
            fresh.append(position)
    stored = _store(conn, runtime, spec, [items[p] for p in fresh])
    made = dict(zip(fresh, stored, strict=True))
    receipts: list[ItemReceipt] = []
    for position, item in enumerate(items):
        if position in made:
            receipts.append(made[position])
        elif item.event_id in earlier:
            again = item.event_id in retried
            receipts.append(
                ItemReceipt(
                    item.event_id, duplicate=not again, retried=again, **earlier[item.event_id]
                )
            )
            retried.discard(item.event_id)  # a second copy in this call is a duplicate
        else:
            first = made[first_of[str(item.event_id)]]
            receipts.append(
                ItemReceipt(item.event_id, first.customer, first.records, first.journeys, True)
            )
    rows = [
        {
            "endpoint": spec.endpoint,
            "event_id": r.event_id,
            "result": {"customer": r.customer, "records": r.records, "journeys": r.journeys},
            "at": runtime.clock.now(),
        }
        for r in stored
        if r.event_id is not None
    ]
    if rows:
        conn.execute(insert(DELIVERIES), rows)
    return receipts


def _retried(
    conn: Connection, runtime: Runtime, spec: WebhookSpec, earlier: dict[str, dict[str, Any]]
) -> set[str]:
    """Put back the failed journeys of earlier deliveries that come again (DESIGN.md 8: a
    redelivery after a fix retries the journey instead of answering "duplicate"); returns the
    event ids whose journey runs again."""
    from engine.runtime.retry import retry_in

    made = {j: event for event, result in earlier.items() for j in result.get("journeys", [])}
    if not made:
        return set()
    again = retry_in(conn, spec.flow, runtime.clock.now(), journey_ids=list(made))
    return {made[f.id] for f in again}


def _deliveries(
    conn: Connection, endpoint: str, event_ids: Sequence[str | None]
) -> dict[str, dict[str, Any]]:
    wanted = list(dict.fromkeys(e for e in event_ids if e is not None))
    found: dict[str, dict[str, Any]] = {}
    for condition, params in among(conn, "event_id", wanted):
        rows = fetch(
            conn,
            f"SELECT event_id, result FROM webhook_deliveries WHERE endpoint = ? AND {condition}",
            (endpoint, *params),
        )
        found.update((event_id, dict(json_value(result))) for event_id, result in rows)
    return found


def _store(
    conn: Connection, runtime: Runtime, spec: WebhookSpec, items: Sequence[Mapped]
) -> list[ItemReceipt]:
    """Upsert the customers, then the records per collection, then enter the customers."""
    if not items:
        return []
    project = runtime.store.project
    now = runtime.clock.now()
    customers = [
        system_id
        for system_id, _ in upsert_customers(
            conn, [i.customer for i in items], key=spec.payload.key, project=project, now=now
        )
    ]
    records: list[list[int]] = [[] for _ in items]
    by_collection: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for position, item in enumerate(items):
        for collection, data in item.records:
            by_collection.setdefault(collection, []).append((position, data))
    for collection, rows in by_collection.items():
        ids = upsert_records(
            conn,
            collection,
            [(data, customers[position]) for position, data in rows],
            project=project,
            now=now,
        )
        for (position, _), (record_id, _) in zip(rows, ids, strict=True):
            records[position].append(record_id)
    entries = [Entry(c, i.payload) for c, i in zip(customers, items, strict=True)]
    made = runtime.enter_in(conn, spec.flow, spec.object_id, entries)
    journeys: list[list[int]] = [[] for _ in items]
    if spec.flow.reentry == "always":
        for position, journey_id in enumerate(made):
            journeys[position].append(journey_id)
    elif made:
        # at most one journey per customer enters per call: it is its first payload's
        query = select(JOURNEYS.c.customer_id, JOURNEYS.c.id).where(JOURNEYS.c.id.in_(made))
        owner: dict[int, int] = {int(c): int(j) for c, j in conn.execute(query)}
        for position, customer in enumerate(customers):
            if customer in owner:
                journeys[position].append(owner.pop(customer))
    return [
        ItemReceipt(item.event_id, customer, recs, js)
        for item, customer, recs, js in zip(items, customers, records, journeys, strict=True)
    ]
