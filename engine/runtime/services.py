"""The run context's services on the store (see ``engine/sdk/services.py``): reads open a read
transaction of their own; writes are journaled on the context, to commit with the batch."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.store import reactions
from engine.store.customers import (
    add_to_groups,
    field_types,
    iter_customers,
    remove_from_groups,
    set_fields,
)
from engine.store.events import add_events
from engine.store.records import get_record
from engine.store.segments import matching_ids

if TYPE_CHECKING:
    from engine.model.expressions import Expression
    from engine.sdk.context import RunContext
    from engine.store.events import EventRecord


class StoreCustomers:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def select(self, *, group: str | None = None) -> Iterator[list[dict[str, Any]]]:
        ctx = self.ctx
        with ctx.reading() as conn:
            yield from iter_customers(conn, ctx.project, group=group)

    def matching(
        self,
        where: Expression | None,
        *,
        group: str | None = None,
        among: Sequence[int] | None = None,
    ) -> Iterator[list[int]]:
        ctx = self.ctx
        with ctx.reading() as conn:
            yield from matching_ids(
                conn, ctx.project, where, now=ctx.now, today=ctx.today, group=group, among=among
            )

    def field_types(self) -> Mapping[str, str]:
        return field_types(self.ctx.project)

    def set_fields(self, changes: Mapping[int, Mapping[str, Any]]) -> None:
        project, now, values = self.ctx.project, self.ctx.now, dict(changes)
        self.ctx.journal(lambda conn: set_fields(conn, values, project, now))

    def unsubscribe(self, customer_ids: Sequence[int]) -> None:
        ids, now = list(customer_ids), self.ctx.now
        self.ctx.journal(lambda conn: reactions.unsubscribe(conn, ids, now))


class StoreGroups:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def add(self, customer_ids: Sequence[int], names: Iterable[str]) -> None:
        ids, groups, now = list(customer_ids), list(names), self.ctx.now
        self.ctx.journal(lambda conn: add_to_groups(conn, ids, groups, now))

    def remove(self, customer_ids: Sequence[int], names: Iterable[str]) -> None:
        ids, groups = list(customer_ids), list(names)
        self.ctx.journal(lambda conn: remove_from_groups(conn, ids, groups))


class StoreEvents:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def times(
        self,
        kind: str,
        customer_ids: Sequence[int],
        *,
        since: datetime,
        object_id: str | None = None,
    ) -> dict[int, list[datetime]]:
        ctx = self.ctx
        with ctx.reading() as conn:
            return reactions.event_times(
                conn, kind, customer_ids, flow=ctx.flow.name, since=since, object_id=object_id
            )

    def add(self, events: Iterable[EventRecord | Mapping[str, Any]]) -> None:
        rows = list(events)
        self.ctx.journal(lambda conn: add_events(conn, rows))


class StoreRecords:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def get(self, collection: str, key: str) -> dict[str, Any] | None:
        with self.ctx.reading() as conn:
            return get_record(conn, collection, key)
