"""What an object sees of the world while it runs: the clock's now, the project, its flow, read
access to the store, writes that commit with the batch's routing, and the effect sinks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from engine.sdk.batch import Entry
from engine.sdk.effects import Effects

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from engine.model.flow import Flow
    from engine.model.project import Project
    from engine.sdk.batch import Journey
    from engine.store import Store

# "Connection" in quotes: SQLAlchemy loads only when something writes, not when objects load
Write = Callable[["Connection"], None]
Enter = Callable[[Sequence[Entry]], None]
EnteringWrite = Callable[["Connection", Enter], None]


@dataclass
class RunContext:
    """The context of one run of one object (a batch, or a start object firing)."""

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

    def write(self, change: Write) -> None:
        """Queue a database change; it commits in the same transaction as the batch's routing,
        so a batch that runs again after a crash does not apply it twice."""
        self.writes.append(change)

    def write_entering(self, change: EnteringWrite) -> None:
        """Queue a database change that lets customers enter the flow at this object (an
        import): it runs in the same transaction as the run's routing, after it, and hands
        entries to ``enter`` as it goes (in chunks: a million imported customers need no list of
        a million entries). When it raises a ``SluisError`` nothing of the run commits: a start
        object's firing is recorded as failed, a batch's journeys fail with the message."""
        self.entering.append(change)

    def on_commit(self, action: Callable[[], None]) -> None:
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
