"""What an object sees of the world while it runs: the clock's now, the project, its flow, the
services (``customers``, ``groups``, ``events``, ``records``, ``files``), the journal of writes
that commit with the batch's routing, and the effect sinks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from engine.model.templates import local_today
from engine.sdk.batch import Entries, Entry, chunks_of
from engine.sdk.effects import Effects

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from engine.files import Place
    from engine.files.exports import Column
    from engine.files.imports import ImportSpec
    from engine.files.pickup import Pickup
    from engine.files.trigger import FileTrigger
    from engine.model.flow import Flow
    from engine.model.project import Project
    from engine.runtime.recordview import BatchRecords, RecordsView
    from engine.sdk.batch import Batch, Journey, Routing
    from engine.sdk.decisions import BatchDecision
    from engine.sdk.services import Customers, Events, Groups, Records
    from engine.store import Store

# "Connection" in quotes: SQLAlchemy loads only when something writes, not when objects load
Write = Callable[["Connection"], object]
Enter = Callable[[Sequence[Entry]], None]
EnteringWrite = Callable[["Connection", Enter], None]
Decide = Callable[["BatchDecision", "Batch", "Routing"], None]
ENTER_CHUNK = 10_000  # entries handed over at a time


@dataclass
class RunContext:
    """The context of one run of one object (a batch, or a start object firing). ``store``,
    ``transaction`` and the queues (``writes``, ``entering``, ``committed``) belong to the
    runtime and its services; objects use the services."""

    now: datetime
    project: Project
    flow: Flow
    object_id: str
    store: Store
    effects: Effects
    writes: list[Write] = field(default_factory=list)
    entering: list[EnteringWrite] = field(default_factory=list)
    committed: list[Callable[[], None]] = field(default_factory=list)
    transaction: Connection | None = None  # the run's, while the runtime has it open
    # the customers of the batch being decided (or the chunk a start object reads): their
    # datamodel records load together when an expression or template first uses them
    batch_customers: Sequence[int] = ()
    # how batch decisions run here: in the database when the runtime chose that for this
    # object (see engine/runtime/setbased.py); None: journey by journey
    decider: Decide | None = None

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.flow.timezone)

    @cached_property
    def today(self) -> date:
        """Today in the flow's time zone."""
        return local_today(self.now, self.flow.timezone)

    # -- services ----------------------------------------------------------------------------

    @cached_property
    def customers(self) -> Customers:
        from engine.runtime.services import StoreCustomers

        return StoreCustomers(self)

    @cached_property
    def groups(self) -> Groups:
        from engine.runtime.services import StoreGroups

        return StoreGroups(self)

    @cached_property
    def events(self) -> Events:
        from engine.runtime.services import StoreEvents

        return StoreEvents(self)

    @cached_property
    def records(self) -> Records:
        from engine.runtime.services import StoreRecords

        return StoreRecords(self)

    @cached_property
    def customer_records(self) -> BatchRecords:
        """The datamodel records of ``batch_customers``, loaded per collection when used."""
        from engine.runtime.recordview import BatchRecords

        return BatchRecords(self)

    @cached_property
    def records_limit(self) -> int | None:
        """How many records per collection this object's templates see (``records_limit``)."""
        spec = self.flow.objects.get(self.object_id)
        limit = getattr(getattr(spec, "settings", None), "records_limit", None)
        return limit if isinstance(limit, int) else None

    @cached_property
    def files(self) -> ProjectFiles:
        return ProjectFiles(self)

    # -- the journal -------------------------------------------------------------------------

    def journal(self, change: Write) -> None:
        """A database change that commits in the same transaction as the run's routing (a
        batch that runs again after a crash does not apply it twice; a failing batch applies
        none): queued until then, or made at once while that transaction is open (a start
        object's ``entries``). The services journal their writes here."""
        if self.transaction is not None:
            change(self.transaction)
        else:
            self.writes.append(change)

    @contextmanager
    def inside(self, conn: Connection) -> Iterator[None]:
        """For the runtime: while ``conn``'s transaction is the run's, services read and write
        through it."""
        self.transaction = conn
        try:
            yield
        finally:
            self.transaction = None

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """For services: the run's transaction when open, else a read transaction."""
        if self.transaction is not None:
            yield self.transaction
        else:
            with self.store.db.read() as conn:
                yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """For services: the run's transaction when open, else a write transaction of its own,
        committed when the block ends (a write that must stand before an effect, such as an
        export's file name, or one after the run committed)."""
        if self.transaction is not None:
            yield self.transaction
        else:
            with self.store.db.write() as conn:
                yield conn

    def enter(self, entries: Callable[[], Entries]) -> None:
        """Customers enter the flow at this object, in the transaction of the batch's routing,
        after it (a mid-flow import): ``entries()`` runs there and its entries are taken as
        they come, in chunks. When it raises a ``SluisError`` nothing of the batch commits and
        its journeys fail with the message. (Start objects return their entries from
        ``entries`` instead.)"""

        def change(conn: Connection, enter: Enter) -> None:
            with self.inside(conn):
                for part in chunks_of(entries(), ENTER_CHUNK):
                    enter(part)

        self.entering.append(change)

    def decide(self, decision: BatchDecision, *, batch: Batch, routing: Routing) -> None:
        """Run an object's batch decision on ``batch`` the way the runtime chose for it."""
        if self.decider is not None:
            self.decider(decision, batch, routing)
            return
        from engine.sdk.decisions import decide_in_python

        decide_in_python(decision, batch=batch, routing=routing, ctx=self)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the run's transaction committed (moving an imported file
        away). A ``SluisError`` it raises is logged; the commit stands."""
        self.committed.append(action)

    def scope(self, journey: Journey | None = None, **extra: Any) -> dict[str, Any]:
        """Variables for expressions and templates."""
        return {
            "customer": journey.customer if journey else {},
            "data": journey.data if journey else {},
            "now": self.now,
            "today": self.today,
            "flow": self.flow.name,
            "object": self.object_id,
            "records": self.records_of(journey.customer_id) if journey else {},
            **extra,
        }

    def records_of(self, customer_id: int) -> RecordsView:
        """``records`` for a customer's expressions and templates (see ``batch_customers``)."""
        return self.customer_records.view(customer_id, self.records_limit)


class ProjectFiles:
    """Locations of the project as places (``ctx.files``), through the effects' file sink (so
    replay writes under its own folder)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def place(
        self, location: Any, scope: Mapping[str, Any] | None = None, *, render: bool = True
    ) -> Place:
        """The place ``location`` names, its templates rendered with ``scope`` (default: the
        context's scope without a journey); ``render`` False: a location rendered before."""
        ctx = self.ctx
        if render and scope is None:
            scope = ctx.scope()
        return ctx.effects.files.place(location, ctx.project, scope, render=render)

    def pickup(
        self,
        location: Any,
        spec: ImportSpec,
        *,
        wanted: Sequence[str],
        delete: bool = False,
        move: Any = None,
    ) -> Pickup:
        """The file an import object imports (see ``engine/files/pickup.py``): its
        ``entries()`` import it in the run's transaction, ``only_after_left()`` says whether
        only its move or delete is left from an earlier run."""
        from engine.files.pickup import Pickup

        place = self.place(location)
        return Pickup(self.ctx, place, spec, wanted=wanted, delete=delete, move=move)

    def export(
        self,
        location: Any,
        batch: Batch,
        columns: Sequence[Column],
        *,
        delimiter: str = ",",
        header: bool = True,
        rows: Sequence[Mapping[str, Any]] | None = None,
    ) -> str:
        """Write the batch's rows (one per journey, or the scopes ``rows``) to a new CSV file
        at ``location`` (see ``engine/files/batch_export.py``: once per batch, never over
        another file); returns where it is."""
        from engine.files.batch_export import export_batch

        return export_batch(
            self.ctx, location, batch, columns, delimiter=delimiter, header=header, rows=rows
        )

    def trigger(self, watch: Any, spec: ImportSpec, *, match: str, retries: int = 0) -> FileTrigger:
        """The folder a csv-trigger watches (see ``engine/files/trigger.py``): its
        ``entries()`` take the files dropped in ``upload/`` whose name matches ``match``; a
        file whose import lost its connection is tried again at the next polls, ``retries``
        times."""
        from engine.files.trigger import FileTrigger

        return FileTrigger(self.ctx, self.place(watch), spec, match=match, retries=retries)
