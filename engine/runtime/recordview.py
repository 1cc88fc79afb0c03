"""``records`` in the scope of expressions and templates: each customer's datamodel records,
loaded for the whole batch at the first use of a collection (one query per collection, never one
per customer; nothing when the flow does not use records)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.store.recordsets import CustomerRecords, records_of_customers

if TYPE_CHECKING:
    from engine.sdk.context import RunContext

DEFAULT_RECORDS_LIMIT = 100  # records per collection a template sees (DESIGN section 7)


class BatchRecords:
    """The records of the customers of a run (``ctx.batch_customers``), per collection."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._batch: Sequence[int] | None = None
        # per (collection, limit or None for all): the customers asked for and their records
        self._loaded: dict[tuple[str, int | None], tuple[set[int], CustomerRecords]] = {}

    def of(
        self, collection: str, customer_id: int, limit: int | None = None
    ) -> tuple[dict[str, Any], ...]:
        """A customer's records of ``collection``, newest first (the newest ``limit``)."""
        if collection not in self.ctx.project.settings.datamodel:
            return ()
        batch = self.ctx.batch_customers
        if batch is not self._batch:  # a new batch: what was loaded is stale
            self._batch = batch
            self._loaded.clear()
        if limit is not None and (collection, None) in self._loaded:
            return self.of(collection, customer_id)[:limit]  # all of them are loaded
        known = self._loaded.get((collection, limit))
        if known is None:
            wanted = {*batch, customer_id}
            known = (wanted, self._load(collection, wanted, limit))
            self._loaded[(collection, limit)] = known
        elif customer_id not in known[0]:  # outside the batch the run announced
            known[0].add(customer_id)
            known[1].update(self._load(collection, {customer_id}, limit))
        return known[1].get(customer_id, ())

    def _load(self, collection: str, customer_ids: set[int], limit: int | None) -> CustomerRecords:
        with self.ctx.reading() as conn:
            return records_of_customers(
                conn, collection, sorted(customer_ids), self.ctx.project, limit
            )

    def view(self, customer_id: int, limit: int | None = None) -> RecordsView:
        return RecordsView(self, customer_id, limit or DEFAULT_RECORDS_LIMIT)


class RecordsView(Mapping[str, Sequence[Mapping[str, Any]]]):
    """One customer's ``records``: ``records.orders`` (templates) is the newest ``limit``
    records, ``complete("orders")`` (expressions) all of them."""

    __slots__ = ("_batch", "_customer", "_limit")

    def __init__(self, batch: BatchRecords, customer_id: int, limit: int) -> None:
        self._batch, self._customer, self._limit = batch, customer_id, limit

    def complete(self, collection: str) -> tuple[dict[str, Any], ...]:
        return self._batch.of(collection, self._customer)

    def __getitem__(self, collection: str) -> tuple[dict[str, Any], ...]:
        if collection not in self._batch.ctx.project.settings.datamodel:
            raise KeyError(collection)
        return self._batch.of(collection, self._customer, self._limit)

    def __iter__(self) -> Iterator[str]:
        return iter(self._batch.ctx.project.settings.datamodel)

    def __len__(self) -> int:
        return len(self._batch.ctx.project.settings.datamodel)
