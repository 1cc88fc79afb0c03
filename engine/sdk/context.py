"""What an object sees of the world while it runs: the clock's now, the project, its flow, the
services (``customers``, ``groups``, ``events``, ``records``, ``files``), the journal of writes
that commit with the batch's routing, and the effect sinks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from engine.sdk.batch import Entry
from engine.sdk.effects import Effects

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from engine.files import Place
    from engine.model.flow import Flow
    from engine.model.project import Project
    from engine.sdk.batch import Journey
    from engine.sdk.services import Customers, Events, Groups, Records
    from engine.store import Store

Write = Callable[["Connection"], object]
Enter = Callable[[Sequence[Entry]], None]
EnteringWrite = Callable[["Connection", Enter], None]


@dataclass
class RunContext:
    """The context of one run of one object (a batch, or a start object firing). ``store``
    and the queues (``writes``, ``entering``, ``committed``) belong to the runtime and its
    services; objects use the services."""

    now: datetime
    project: Project
    flow: Flow
    object_id: str
    store: Store
    effects: Effects
    writes: list[Write] = field(default_factory=list)
    entering: list[EnteringWrite] = field(default_factory=list)
    committed: list[Callable[[], None]] = field(default_factory=list)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.flow.timezone)

    @cached_property
    def today(self) -> date:
        """Today in the flow's time zone."""
        return self.now.astimezone(self.zone).date()

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
    def files(self) -> ProjectFiles:
        return ProjectFiles(self)

    # -- the journal -------------------------------------------------------------------------

    def journal(self, change: Write) -> None:
        """Queue a database change; it commits in the same transaction as the batch's routing
        (a batch that runs again after a crash does not apply it twice; a failing batch
        applies none). The services journal their writes here."""
        self.writes.append(change)

    def write_entering(self, change: EnteringWrite) -> None:
        """Queue a database change that lets customers enter the flow at this object (an
        import): it runs in the same transaction as the run's routing, after it, and hands
        entries to ``enter`` as it goes (in chunks: a million imported customers need no list of
        a million entries). When it raises a ``SluisError`` nothing of the run commits: a start
        object's firing is recorded as failed, a batch's journeys fail with the message."""
        self.entering.append(change)

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
            **extra,
        }


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
