"""A batch's passage: everything one claimed batch comes to, committed in one transaction.

The claimed object decides first. Journeys it sends on to an *instant* object (filter, split,
update, group, ...: objects that decide from the batch alone, without effects) are decided
there at once, in the same transaction, and so on, until every journey is held, has ended, or
stands at an object that needs a claim of its own (a bucket, an export, a mail). Every object
records its step with its reason as before; a journey's row is written once, where it stops.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection

from engine.model.flow import Flow
from engine.sdk.batch import Fail, Hold, Journey, Routing
from engine.store import journeys as sql
from engine.store.events import EventRecord, add_events


@dataclass(frozen=True)
class BatchReport:
    """What one object did with one batch, for progress displays and the TUI's step mode."""

    flow: str
    object: str
    size: int
    outputs: Mapping[str, int]
    at: datetime


class Position(NamedTuple):
    """Where a journey stands once its batch committed."""

    object: str
    state: str
    ready_at: datetime | None
    arrived_at: datetime
    wake_on: str | None
    release_id: int | None


@dataclass
class Onward:
    """Journeys that reached an instant object, to be decided there in the same passage.
    ``loaded`` is the passage's write count when their customers were read (None: only ids)."""

    object_id: str
    journeys: list[Journey]
    loaded: int | None


@dataclass
class Passage:
    """Collects the decisions of every object a batch passes, then writes them at once."""

    flow: Flow
    claim_id: int
    now: datetime
    releases: dict[int, int | None]  # journey id -> the release group it moves on with
    ends_claim: bool = True  # False: more slices of the claim follow (see Runtime)
    steps: list[tuple[int, str, str | None, str]] = field(default_factory=list)
    positions: dict[int, Position] = field(default_factory=dict)
    data: dict[int, dict[str, Any]] = field(default_factory=dict)
    failures: list[EventRecord] = field(default_factory=list)
    reports: list[BatchReport] = field(default_factory=list)
    onward: deque[Onward] = field(default_factory=deque)
    writes: int = 0  # how many objects of the passage changed the database so far

    def route(
        self, object_id: str, journeys: list[Journey], routing: Routing, loaded: int | None
    ) -> None:
        """Take one object's decisions: steps, final positions, and the journeys that go on
        to instant objects (queued in ``onward``)."""
        now, positions, steps, releases = self.now, self.positions, self.steps, self.releases
        release_of: dict[int, int] = {}
        for group in routing.groups:
            release_of.update(dict.fromkeys(group, min(group)))
        targets: dict[str | None, tuple[str | None, bool]] = {}  # output -> (target, instant)
        onward: dict[tuple[str, int | None], list[Journey]] = {}  # a release moves as one
        outputs: dict[str, int] = {}
        decisions = routing.decisions
        for journey in journeys:
            jid = journey.id
            decision = decisions.get(jid)
            release = release_of.get(jid, releases.get(jid))
            if decision is None or isinstance(decision, Fail):
                reason = (
                    decision.reason
                    if decision is not None
                    else (f"failed: object '{object_id}' made no decision for this journey")
                )
                self._fail(object_id, journey, reason, release)
                outputs["failed"] = outputs.get("failed", 0) + 1
                continue
            data = journey.data
            if decision.data:
                data = self.data[jid] = {**data, **decision.data}
            if isinstance(decision, Hold):
                until, wake_on = decision.until, decision.wake_on
                positions[jid] = Position(
                    object_id, "active", until, journey.arrived_at, wake_on, release
                )
                outputs["held"] = outputs.get("held", 0) + 1
                continue
            output, reason = decision.output, decision.reason
            steps.append((jid, object_id, output, reason))
            key = output or "end"
            outputs[key] = outputs.get(key, 0) + 1
            if output not in targets:
                target = self.flow.target(object_id, output)
                targets[output] = (target, target is not None and self._instant(target))
            target, instant = targets[output]
            if target is None:
                positions[jid] = Position(
                    object_id, "finished", None, journey.arrived_at, None, release
                )
            elif instant:
                releases[jid] = release
                onward.setdefault((target, release), []).append(
                    Journey(jid, journey.customer, data, journey.entered_at, now, journey.via)
                )
            else:
                positions[jid] = Position(target, "active", now, now, None, release)
        for (target, _), reached in onward.items():
            self.onward.append(Onward(target, reached, loaded))
        self.reports.append(BatchReport(self.flow.name, object_id, len(journeys), outputs, now))

    def _instant(self, object_id: str) -> bool:
        return self.flow.objects[object_id].kind.instant

    def _fail(self, object_id: str, journey: Journey, reason: str, release: int | None) -> None:
        self.steps.append((journey.id, object_id, None, reason))
        self.positions[journey.id] = Position(
            object_id, "failed", None, journey.arrived_at, None, release
        )
        self.failures.append(
            EventRecord(
                "failed",
                self.now,
                journey.customer_id,
                self.flow.name,
                object_id,
                journey.id,
                {"reason": reason},
            )
        )

    def apply(self, conn: Connection) -> None:
        """Write the steps, each journey's final position and changed data, the failure
        events, and end the claim."""
        sql.apply(
            conn,
            claim_id=self.claim_id,
            flow=self.flow.name,
            now=self.now,
            steps=self.steps,
            positions=self.positions,
            data=self.data,
            ends_claim=self.ends_claim,
        )
        add_events(conn, self.failures)
