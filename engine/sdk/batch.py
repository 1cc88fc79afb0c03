"""Batches and routing: what an object receives and what it decides.

A ``Batch`` is the journeys ready at one object, with their customers already loaded. The object
answers through ``Routing``: each journey leaves by an output with a reason a person can read,
is held until a time (and perhaps an event), or fails. The runtime applies the routing of the
whole batch in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple


@dataclass(eq=False, slots=True)
class Journey:
    """One customer's passage through a flow, as an object sees it."""

    id: int
    customer: dict[str, Any]
    data: dict[str, Any]
    entered_at: datetime
    arrived_at: datetime
    via: str

    @property
    def customer_id(self) -> int:
        value: int = self.customer["system_id"]
        return value


@dataclass
class Batch:
    """The journeys ready at one object, processed together. ``key`` is stable when the same
    batch runs again after a crash (use it for idempotency: export names, HTTP keys)."""

    flow: str
    object_id: str
    key: str
    journeys: list[Journey]

    def __iter__(self) -> Iterator[Journey]:
        return iter(self.journeys)

    def __len__(self) -> int:
        return len(self.journeys)


@dataclass(frozen=True, slots=True)
class Entry:
    """A customer entering a flow at a start object, with the entry data (payload, row)."""

    customer_id: int
    data: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None


class Leave(NamedTuple):
    output: str | None
    reason: str
    data: Mapping[str, Any] | None = None


class Hold(NamedTuple):
    until: datetime | None
    wake_on: str | None = None
    data: Mapping[str, Any] | None = None


class Fail(NamedTuple):
    reason: str


Decision = Leave | Hold | Fail


class UndeclaredOutput(Exception):
    """An object routed to an output its type does not declare: a bug in the object, not in
    the flow, so it is not a ``SluisError``; the batch fails loudly (see DESIGN.md 8)."""


class Routing:
    """Collects one decision per journey; ``release`` groups journeys that move on together.
    Leaving by an output the object does not declare raises ``UndeclaredOutput`` (``None``,
    ending the journey here, is always allowed)."""

    def __init__(self, outputs: Collection[str] | None = None, object_id: str = "") -> None:
        self.decisions: dict[int, Decision] = {}
        self.groups: list[list[int]] = []
        self.outputs = outputs  # None: not checked (a routing made outside the runtime)
        self.object_id = object_id
        # what may be left by, None (end here) included: one set lookup per decision
        self._allowed = None if outputs is None else frozenset((*outputs, None))

    def _undeclared(self, output: str | None) -> UndeclaredOutput:
        outputs = ", ".join(self.outputs or ()) or "none"
        return UndeclaredOutput(
            f"object '{self.object_id}' routed to output '{output}', which its type does not "
            f"declare (outputs: {outputs}); fix the object's run or declare the output"
        )

    def leave(
        self,
        journey: Journey | int,
        output: str | None,
        reason: str,
        *,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """The journey leaves by ``output``; ``data`` is merged into its entry data."""
        if self._allowed is not None and output not in self._allowed:
            raise self._undeclared(output)
        self.decisions[_id(journey)] = Leave(output, reason, data)

    def leave_all(self, journeys: Iterable[Journey], output: str | None, reason: str) -> None:
        """Every one of ``journeys`` leaves by ``output`` with the same reason (one decision
        shared by all: a batch of a thousand costs one object, not a thousand)."""
        if self._allowed is not None and output not in self._allowed:
            raise self._undeclared(output)
        self.decisions.update(dict.fromkeys((j.id for j in journeys), Leave(output, reason)))

    def hold(
        self,
        journey: Journey | int,
        until: datetime | None,
        *,
        wake_on: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """The journey stays here until ``until`` (or forever when None), or until an event
        of kind ``wake_on`` happens to its customer, whichever comes first."""
        self.decisions[_id(journey)] = Hold(until, wake_on, data)

    def fail(self, journey: Journey | int, reason: str) -> None:
        self.decisions[_id(journey)] = Fail(reason)

    def release(self, journeys: list[Journey], output: str | None, reason: str) -> None:
        """The journeys leave together and move on as one batch, whatever its size."""
        self.leave_all(journeys, output, reason)
        self.groups.append([j.id for j in journeys])


Entries = Iterable[Entry | Sequence[Entry]]


def chunks_of(entries: Entries, size: int) -> Iterator[Sequence[Entry]]:
    """``entries`` in lists of at most ``size``, taken as they come; a list among them is
    handed on as it is, at once (an import's chunk enters before its next one is stored)."""
    part: list[Entry] = []
    for item in entries:
        if isinstance(item, Entry):
            part.append(item)
            if len(part) >= size:
                yield part
                part = []
            continue
        if part:
            yield part
            part = []
        if item:
            yield item
    if part:
        yield part


def _id(journey: Journey | int) -> int:
    return journey if isinstance(journey, int) else journey.id
