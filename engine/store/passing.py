"""A batch's passage through set-based objects, in the database (see
``engine/runtime/setpassage.py``): each object's steps written with one ``INSERT INTO steps
... SELECT`` (its ways chosen by a ``CASE``, their reasons with them), and the journeys placed
where they stop with one ``UPDATE`` per place.

The journeys at an object are named in SQL, never read into Python: the batch itself at the
first object, else those whose step at the object before took one of the outputs leading
here. Each object's steps are told apart by their ids: the batch's journeys are this
passage's alone (claimed or locked), and each statement writes its steps after the ones
before, so an object's are those of the batch's journeys between the newest step before it
and its own newest. Steps are written in the order the journey-by-journey passage writes
them: the batch's order at the first object, then each object's in the order of the object
before.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Connection, text

from engine.sdk.decisions import BatchDecision
from engine.store.decisions import Chosen, way_index
from engine.store.raw import id_list, ids_among, time_param
from engine.store.segments import param_values

if TYPE_CHECKING:
    from engine.model.project import Project

Outputs = tuple[str | None, ...]


class Stage(NamedTuple):
    """The steps one statement wrote at ``object``: the batch's after ``after`` up to
    ``upto``."""

    object: str
    after: int
    upto: int


class CameFrom(NamedTuple):
    """Journeys that left ``stage`` by one of ``outputs``."""

    stage: Stage
    outputs: Outputs


class Left(NamedTuple):
    """How many journeys left an object by an output, and the first one's step id."""

    size: int
    first: int


class PassageSql:
    """The statements of one passage of the ``journey_ids`` of ``flow`` at ``now``, in the
    caller's transaction."""

    def __init__(
        self, conn: Connection, flow: str, journey_ids: Sequence[int], now: datetime
    ) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.mark = conn.exec_driver_sql("SELECT max(id) FROM steps").scalar() or 0
        self.params: dict[str, Any] = {
            "pass_flow": flow,
            "pass_at": time_param(conn, now),
            "pass_batch": id_list(conn, journey_ids),
        }
        self.value = param_values(conn)
        # where they stop they wait for no event: cleared here, for the few that did, so
        # the placing updates leave the wake index alone
        conn.execute(
            text(
                f"UPDATE journeys SET wake_on = NULL WHERE {self._among('id')} "
                "AND wake_on IS NOT NULL"
            ),
            self.params,
        )

    def _among(self, column: str) -> str:
        return ids_among(self.conn, column, "pass_batch")

    def _left(self, came: CameFrom, params: dict[str, Any]) -> str:
        """Steps (``p``) of ``came.stage`` by one of ``came.outputs``."""
        start = len(params)
        params[f"pass_o{start}"], params[f"pass_a{start}"] = came.stage.after, came.stage.upto
        names = [o for o in came.outputs if o is not None]
        tests = []
        if names:
            marks = []
            for n, output in enumerate(names, start + 1):
                params[f"pass_o{n}"] = output
                marks.append(f":pass_o{n}")
            tests.append(f"p.output IN ({', '.join(marks)})")
        if None in came.outputs:
            tests.append("p.output IS NULL")
        # SQLite: the unary + keeps the batch's list from choosing the journey_id index (a
        # search per journey, then a sort); the id range is the stage's steps alone
        journey = "p.journey_id" if self.postgres else "+p.journey_id"
        return (
            f"p.id > :pass_o{start} AND p.id <= :pass_a{start} AND ({' OR '.join(tests)}) "
            f"AND {self._among(journey)}"
        )

    def decide(
        self,
        decision: BatchDecision,
        object_id: str,
        came: CameFrom | None,
        *,
        project: Project,
        now: datetime,
        today: date,
    ) -> tuple[Stage, dict[str | None, Left]]:
        """Write the steps of the journeys at ``object_id`` (the batch when ``came`` is None),
        each by the first of the decision's ways it takes; return them, and by output how
        many left by it and the first one's step."""
        v, ways = self.value, decision.ways
        params = dict(self.params)
        choice, found = way_index(
            self.conn,
            decision,
            flow=params["pass_flow"],
            object_id=object_id,
            project=project,
            now=now,
            today=today,
        )
        params.update(found, pass_object=object_id)
        # one way: no customer is read, and after the first object no journey either
        single = len(ways) == 1
        customers = "" if single else " LEFT JOIN customers c ON c.system_id = j.customer_id"
        journey = "j.id"
        if came is None:
            rows = f"journeys j{customers} WHERE {self._among('j.id')}"
            order: tuple[str, ...] = ("j.arrived_at", "j.customer_id", "j.id")
        elif single:
            rows, order, journey = (
                f"steps p WHERE {self._left(came, params)}",
                ("p.id",),
                "p.journey_id",
            )
        else:
            rows = (
                f"steps p JOIN journeys j ON j.id = p.journey_id{customers} "
                f"WHERE {self._left(came, params)}"
            )
            order = ("p.id",)
        outputs, reasons = [], []
        for index, way in enumerate(ways):
            params[f"pass_out{index}"], params[f"pass_why{index}"] = way.output, way.reason
            outputs.append(f"WHEN {index} THEN {v(f'pass_out{index}')}")
            reasons.append(f"WHEN {index} THEN {v(f'pass_why{index}')}")
        insert = "INSERT INTO steps (journey_id, flow, object, at, output, reason) "
        fixed = f"{v('pass_flow')}, {v('pass_object')}, {v('pass_at', 'time')}"
        if single:
            statement = (
                f"{insert}SELECT {journey}, {fixed}, {v('pass_out0')}, {v('pass_why0')} "
                f"FROM {rows} ORDER BY {', '.join(order)}"
            )
        else:
            keys = ", ".join(f"{column} AS k{n}" for n, column in enumerate(order))
            statement = (
                f"{insert}SELECT w.id, {fixed}, CASE w.way {' '.join(outputs)} END, "
                f"CASE w.way {' '.join(reasons)} END "
                f"FROM (SELECT j.id AS id, {choice} AS way, {keys} FROM {rows}) w "
                f"ORDER BY {', '.join(f'w.k{n}' for n in range(len(order)))}"
            )
        made = self.conn.execute(text(statement), params).rowcount
        if single:  # no need to count: the newest step is the stage's last
            newest = self.conn.exec_driver_sql("SELECT max(id) FROM steps").scalar() or 0
            stage = Stage(object_id, self.mark, newest if made else self.mark)
            self.mark = stage.upto
            return stage, {ways[0].output: Left(made, 0)} if made else {}
        params["pass_mark"] = self.mark
        counted = self.conn.execute(
            text(
                "SELECT p.output, count(*), min(p.id), max(p.id) FROM steps p "
                f"WHERE p.id > :pass_mark AND {self._among('p.journey_id')} GROUP BY p.output"
            ),
            params,
        ).all()
        stage = Stage(object_id, self.mark, max((r[3] for r in counted), default=self.mark))
        self.mark = stage.upto
        return stage, {output: Left(size, first) for output, size, first, _ in counted}

    def chosen(self, came: CameFrom) -> Chosen:
        """The customers of the journeys that left a stage by some of its outputs, in SQL
        (with the ``at`` of their steps)."""
        params = dict(self.params)
        left = self._left(came, params)
        return Chosen(
            "SELECT j.customer_id AS customer_id, p.id AS at FROM steps p JOIN journeys j "
            f"ON j.id = p.journey_id WHERE {left}",
            params,
        )

    def customers(self, came: CameFrom) -> list[tuple[int, int]]:
        """The journeys (and their customers) that left a stage by some of its outputs, in
        the order of their steps."""
        params = dict(self.params)
        left = self._left(came, params)
        statement = (
            "SELECT p.journey_id, j.customer_id FROM steps p JOIN journeys j "
            f"ON j.id = p.journey_id WHERE {left} ORDER BY p.id"
        )
        return [(jid, cid) for jid, cid in self.conn.execute(text(statement), params)]

    def place(self, came: CameFrom, target: str | None, *, first: bool) -> None:
        """Place the journeys that left a stage by some of its outputs: active and ready now
        at ``target``, or finished at the stage's object when there is none (arrived there
        now, unless it is the batch's ``first`` object). Their claim, if any, ends."""
        params = dict(self.params)
        left = self._left(came, params)
        if target is None:
            params["pass_object"] = came.stage.object
            placed = "object = :pass_object, state = 'finished', ready_at = NULL"
            arrived = "arrived_at" if first else ":pass_at"
        else:
            params["pass_object"] = target
            placed = "object = :pass_object, state = 'active', ready_at = :pass_at"
            arrived = ":pass_at"
        self.conn.execute(
            text(
                f"UPDATE journeys SET {placed}, arrived_at = {arrived}, claim_id = NULL "
                f"WHERE id IN (SELECT p.journey_id FROM steps p WHERE {left})"
            ),
            params,
        )
