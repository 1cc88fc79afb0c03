"""Set-based decisions: an instant object may say how it decides a whole batch as data, a
``BatchDecision``, instead of deciding journey by journey in code.

A decision is its ways out, in order (each journey takes the first whose condition holds; the
last has none), and the changes it makes to the customers of the journeys that leave (fields
set, groups joined or left, unsubscribed, an event each). The runtime runs a decision in the
database, a few statements per batch, when every part of it can run there; the choice is made
when the flow is validated and deployed (``sluis validate -v`` shows it), never at run time.
Otherwise ``decide_in_python`` runs it journey by journey, with the same steps, reasons and
writes. An object returns its decision from ``CampaignObject.batch_decision``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.model.shares import percent_point

if TYPE_CHECKING:
    from engine.model.expressions import Expression
    from engine.model.templates import Template
    from engine.sdk.batch import Batch, Journey, Routing
    from engine.sdk.context import RunContext


@dataclass(frozen=True)
class Share:
    """Customers whose percent point (see ``engine.model.shares``) is below ``edge``."""

    edge: float


@dataclass(frozen=True)
class Way:
    """Journeys for which ``when`` holds (and no earlier way's) leave by ``output`` with
    ``reason``; ``when`` None: every journey no earlier way took."""

    output: str | None
    reason: str
    when: Expression | Share | None = None


@dataclass(frozen=True)
class SetFields:
    """Set customer fields to templates or literal values (``None``: empty)."""

    values: Mapping[str, Template | None]


@dataclass(frozen=True)
class AddToGroups:
    names: tuple[str, ...]


@dataclass(frozen=True)
class RemoveFromGroups:
    names: tuple[str, ...]


@dataclass(frozen=True)
class UnsubscribeAll:
    """Unsubscribe the customers from all mail."""


@dataclass(frozen=True)
class RecordEvent:
    """An event of ``kind`` with ``data`` for every journey, of this flow and object."""

    kind: str
    data: Mapping[str, Any]


Change = SetFields | AddToGroups | RemoveFromGroups | UnsubscribeAll | RecordEvent


@dataclass(frozen=True)
class BatchDecision:
    """How an object decides a batch: ``ways`` out, then ``changes`` to the customers of the
    journeys that left, in order."""

    ways: tuple[Way, ...]
    changes: tuple[Change, ...] = field(default=())

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        """Decide ``batch`` the way the runtime chose for this object."""
        ctx.decide(self, batch=batch, routing=routing)


def decide_in_python(
    decision: BatchDecision, *, batch: Batch, routing: Routing, ctx: RunContext
) -> None:
    """Run ``decision`` journey by journey (the path for what cannot run in the database)."""
    fields = next((c for c in decision.changes if isinstance(c, SetFields)), None)
    left = list(batch) if fields is None else _set_values(fields, batch, routing, ctx)
    ways = decision.ways
    if len(ways) == 1 and ways[0].when is None:
        routing.leave_all(left, ways[0].output, ways[0].reason)
    else:
        for journey in left:
            way = _first_way(ways, journey, batch, ctx)
            routing.leave(journey, way.output, way.reason)
    apply_changes(decision.changes, left, ctx)


def _first_way(ways: Sequence[Way], journey: Journey, batch: Batch, ctx: RunContext) -> Way:
    scope: dict[str, Any] | None = None
    point: float | None = None
    for way in ways:
        when = way.when
        if when is None:
            return way
        if isinstance(when, Share):
            if point is None:
                point = percent_point(batch.flow, batch.object_id, journey.customer_id)
            if point < when.edge:
                return way
            continue
        if scope is None:
            scope = ctx.scope(journey)
        if when.test(scope):
            return way
    raise ValueError("a batch decision's last way must take every journey (when: None)")


def _set_values(
    fields: SetFields, batch: Batch, routing: Routing, ctx: RunContext
) -> list[Journey]:
    """Render and convert the values for each journey (one that fails, fails with the
    reason); queue the changes. Returns the journeys that go on."""
    from engine.errors import SluisError
    from engine.model.fields import convert
    from engine.model.templates import render_value

    types = ctx.customers.field_types()
    changes = {}
    left = []
    for journey in batch:
        scope = ctx.scope(journey)
        try:
            values = {
                name: convert(render_value(value, scope), types[name])
                for name, value in fields.values.items()
            }
        except (ValueError, SluisError) as exc:
            routing.fail(journey, f"failed: {exc}")
            continue
        changes[journey.customer_id] = values
        left.append(journey)
    if changes:
        ctx.customers.set_fields(changes)
    return left


def apply_changes(changes: Sequence[Change], journeys: Sequence[Journey], ctx: RunContext) -> None:
    """Queue the changes other than ``SetFields`` for the customers of ``journeys``, through
    the context's services (both paths: their writes are the same)."""
    changes_to(changes, [(j.id, j.customer_id) for j in journeys], ctx)


def changes_to(
    changes: Sequence[Change], journeys: Sequence[tuple[int, int]], ctx: RunContext
) -> None:
    """``apply_changes`` for journeys given as (journey id, customer id)."""
    ids = [customer for _, customer in journeys]
    for change in changes:
        if isinstance(change, AddToGroups):
            ctx.groups.add(ids, change.names)
        elif isinstance(change, RemoveFromGroups):
            ctx.groups.remove(ids, change.names)
        elif isinstance(change, UnsubscribeAll):
            ctx.customers.unsubscribe(ids)
        elif isinstance(change, RecordEvent):
            ctx.events.add(
                {
                    "kind": change.kind,
                    "at": ctx.now,
                    "customer_id": customer,
                    "flow": ctx.flow.name,
                    "object": ctx.object_id,
                    "journey_id": journey,
                    "data": dict(change.data),
                }
                for journey, customer in journeys
            )
