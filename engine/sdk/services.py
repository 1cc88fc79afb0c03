"""The world as objects see it while they run: narrow services on the run context instead of
the store. Reads answer at once; writes (``set_fields``, ``add``, ...) are journaled: they
commit in the same transaction as the batch's routing, so a batch that runs again after a
crash does not apply them twice, and a batch that fails applies none of them.

Each service is a Protocol; the runtime implements them on its store (``engine/runtime/
services.py``), and a test can hand an object its own."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engine.model.expressions import Expression
    from engine.store.events import EventRecord


class Customers(Protocol):
    """Customer profiles."""

    def select(self, *, group: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every customer (of ``group``), in system_id order, in chunks (memory stays flat)."""
        ...

    def matching(
        self,
        where: Expression | None,
        *,
        group: str | None = None,
        among: Sequence[int] | None = None,
    ) -> Iterator[list[int]]:
        """The system_ids of customers (of ``group``, among ``among`` when given: a batch's)
        for whom ``where`` holds, ascending, in chunks; the expression runs in the database
        (``now``/``today`` of the context)."""
        ...

    def field_types(self) -> Mapping[str, str]:
        """Each profile field's type (``str``, ``int``, ``date``, ...), built-ins included."""
        ...

    def set_fields(self, changes: Mapping[int, Mapping[str, Any]]) -> None:
        """Journaled: set fields of customers (system_id -> field -> value)."""
        ...

    def unsubscribe(self, customer_ids: Sequence[int]) -> None:
        """Journaled: unsubscribe customers from all mail."""
        ...


class Groups(Protocol):
    """Group memberships."""

    def add(self, customer_ids: Sequence[int], names: Iterable[str]) -> None:
        """Journaled: add customers to groups (made when missing)."""
        ...

    def remove(self, customer_ids: Sequence[int], names: Iterable[str]) -> None:
        """Journaled: remove customers from groups."""
        ...


class Events(Protocol):
    """The event log (sent, open, click, bounce, unsubscribe, exported, ...)."""

    def times(
        self,
        kind: str,
        customer_ids: Sequence[int],
        *,
        since: datetime,
        object_id: str | None = None,
    ) -> dict[int, list[datetime]]:
        """When events of ``kind`` of this flow (of its object ``object_id``) happened to each
        customer since ``since``."""
        ...

    def add(self, events: Iterable[EventRecord | Mapping[str, Any]]) -> None:
        """Journaled: append events, as ``EventRecord`` or mappings with its keys (``kind``,
        ``at``, ``customer_id``, ``flow``, ``object``, ``journey_id``, ``data``)."""
        ...


class Records(Protocol):
    """Datamodel records."""

    def get(self, collection: str, key: str) -> dict[str, Any] | None:
        """One record by its key, or None."""
        ...
