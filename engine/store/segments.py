"""Segments: the customers for whom an expression holds, chosen in the database.

The expression is compiled to SQL (``engine.store.sqlexpr``) and read by keyset in system_id
order, so memory stays flat however large the segment. ``sluis start --where``,
``sluis export --where``, the export object and the API's customer search all come here; a
selection's firing enters its segment without reading it (``enter_segment``: ``INSERT ...
SELECT``, the reentry rule a ``NOT EXISTS``), and so do customers chosen by hand
(``enter_chosen``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, text

from engine.store.customers import field_reads, load_customers, stream_customers
from engine.store.profile_columns import typed_fields
from engine.store.raw import id_list, ids_among, streamed, time_param
from engine.store.sqlexpr import compile_where, fields_of

if TYPE_CHECKING:
    from engine.model.expressions import Expression
    from engine.model.project import Project

CHUNK = 5000


def matching_ids(
    conn: Connection,
    project: Project,
    where: Expression | None,
    *,
    now: datetime,
    today: date,
    group: str | None = None,
    chunk: int = CHUNK,
    after: int = 0,
    limit: int | None = None,
    among: Sequence[int] | None = None,
) -> Generator[list[int], None, None]:
    """System ids (of ``group``, among ``among`` when given) for whom ``where`` holds,
    ascending, in chunks: those after ``after``, at most ``limit`` when given."""
    condition, params = _condition(conn, project, where, now, today, group, among=among)
    statement = text(
        f"SELECT c.system_id FROM customers c WHERE {condition} "
        "ORDER BY c.system_id" + (" LIMIT :limit" if limit is not None else "")
    )
    if limit is not None:
        params["limit"] = limit
    # one statement, streamed (a server-side cursor on PostgreSQL): a segment's subqueries
    # run once, not once per chunk
    # (an option of the statement: on the connection it would stay for every later statement)
    result = conn.execute(
        statement.execution_options(stream_results=True), {**params, "after": after}
    )
    try:
        while ids := list(result.scalars().fetchmany(chunk)):
            yield ids
    finally:
        result.close()  # also when the caller stops early


@dataclass(frozen=True)
class SegmentEntry:
    """Where and when a segment's customers enter: the flow (its name, version and reentry
    rule) and the first step at the start object (its output and reason, and the object the
    journeys go on to; None: they end at the start object)."""

    at: datetime
    flow: str
    version: int
    reentry: str  # never | after-exit | always
    start: str
    output: str | None
    reason: str
    target: str | None


# who may not enter again, by reentry rule: as ``journeys.reentry_blocked`` decides it
_BLOCKED = {
    "never": "EXISTS (SELECT 1 FROM journeys j WHERE j.customer_id = c.system_id "
    "AND j.flow = :flow)",
    "after-exit": "EXISTS (SELECT 1 FROM journeys j WHERE j.customer_id = c.system_id "
    "AND j.flow = :flow AND j.state = 'active')",
}
_JOURNEY_COLUMNS = (
    "flow, customer_id, object, state, ready_at, entered_at, arrived_at, via, data, version"
)
_STEP_COLUMNS = "journey_id, flow, object, at, output, reason"


def enter_segment(
    conn: Connection,
    project: Project,
    where: Expression | None,
    entry: SegmentEntry,
    *,
    now: datetime,
    today: date,
    group: str | None = None,
) -> int:
    """Make a journey, with its first step, for every customer (of ``group``) for whom
    ``where`` holds (``now`` and ``today`` as the expression reads them) and whom the reentry
    rule lets in, in system_id order (journey ids ascending with it), as ``journeys.enter``
    makes them; return how many entered. Two statements in the caller's transaction, however
    large the segment."""
    condition, params = _condition(conn, project, where, now, today, group)
    return _enter(conn, condition, params, entry)


def _enter(conn: Connection, condition: str, params: dict[str, Any], entry: SegmentEntry) -> int:
    """``enter_segment`` for the customers ``condition`` chooses (``_condition``)."""
    blocked = _BLOCKED.get(entry.reentry)
    if blocked is not None:
        condition += f" AND NOT {blocked}"
    at = time_param(conn, entry.at)
    params.update(
        after=0,
        flow=entry.flow,
        version=entry.version,
        start=entry.start,
        object=entry.target or entry.start,
        state="active" if entry.target else "finished",
        ready_at=at if entry.target else None,
        data="{}",
        now=at,
        output=entry.output,
        reason=entry.reason,
    )
    v = param_values(conn)
    journeys = (
        f"INSERT INTO journeys ({_JOURNEY_COLUMNS}) SELECT {v('flow')}, c.system_id, "
        f"{v('object')}, {v('state')}, {v('ready_at', 'time')}, {v('now', 'time')}, "
        f"{v('now', 'time')}, {v('start')}, {v('data', 'json')}, {v('version', 'int')} "
        f"FROM customers c WHERE {condition} ORDER BY c.system_id"
    )
    steps = (
        f"INSERT INTO steps ({_STEP_COLUMNS}) SELECT id, {v('flow')}, {v('start')}, "
        f"{v('now', 'time')}, {v('output')}, {v('reason')}"
    )
    if conn.dialect.name == "postgresql":
        made = f"WITH made AS ({journeys} RETURNING id) {steps} FROM made ORDER BY id"
        return int(conn.execute(text(made), params).rowcount)
    # SQLite: the caller holds the one write lock, so the journeys after the largest id
    # before are this statement's
    params["before"] = conn.exec_driver_sql("SELECT max(id) FROM journeys").scalar() or 0
    conn.execute(text(journeys), params)
    made = f"{steps} FROM journeys WHERE id > :before ORDER BY id"
    return int(conn.execute(text(made), params).rowcount)


def enter_chosen(
    conn: Connection,
    project: Project,
    where: Expression | None,
    entry: SegmentEntry,
    *,
    now: datetime,
    today: date,
    group: str | None = None,
) -> tuple[int, int]:
    """``enter_segment`` for customers chosen by hand (``sluis start --where/--group``): how
    many entered, and how many were chosen (some may not enter again)."""
    condition, params = _condition(conn, project, where, now, today, group)
    chosen = conn.execute(
        text(f"SELECT count(*) FROM customers c WHERE {condition}"), {**params, "after": 0}
    ).scalar_one()
    return _enter(conn, condition, params, entry), int(chosen)


_PG_TYPES = {"text": "varchar", "time": "timestamptz", "json": "json", "int": "integer"}


def param_values(conn: Connection) -> Callable[..., str]:
    """How a parameter reads as a column's value: PostgreSQL needs its type said (a
    parameter in a SELECT list has none to deduce); SQLite takes it as it comes."""
    if conn.dialect.name != "postgresql":
        return lambda name, kind="text": f":{name}"
    return lambda name, kind="text": f"CAST(:{name} AS {_PG_TYPES[kind]})"


def _condition(
    conn: Connection,
    project: Project,
    where: Expression | None,
    now: datetime,
    today: date,
    group: str | None,
    typed: set[str] | None = None,
    among: Sequence[int] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The condition on ``customers c`` (after ``:after``, among ``among`` when given) and its
    parameters; ``typed``: the profile fields with typed columns, when known."""
    conditions = ["c.system_id > :after"]
    params: dict[str, Any] = {}
    if among is not None:  # one parameter however many
        conditions.append(ids_among(conn, "c.system_id", "among"))
        params["among"] = id_list(conn, among)
    if where is not None:
        profile, datamodel = fields_of(project)
        typed = typed_fields(conn, project) if typed is None else typed
        compiled = compile_where(
            where, conn.dialect.name, profile, now, today, datamodel, typed=typed
        )
        conditions.append(compiled.sql)
        params.update(compiled.params)
    if group is not None:
        conditions.append(
            "c.system_id IN (SELECT m.customer_id FROM memberships m JOIN groups g "
            "ON g.id = m.group_id WHERE g.name = :group_name)"
        )
        params["group_name"] = group
    return " AND ".join(conditions), params


def matching_customers(
    conn: Connection,
    project: Project,
    where: Expression | None,
    *,
    now: datetime,
    today: date,
    group: str | None = None,
    groups: bool = True,
) -> Iterator[list[dict[str, Any]]]:
    """The matching customers, typed (with their group names unless ``groups`` is false), in
    chunks."""
    if not groups:  # one statement reads them whole
        condition, params = _condition(conn, project, where, now, today, group)
        yield from stream_customers(conn, condition, {**params, "after": 0}, project, chunk=CHUNK)
        return
    for ids in matching_ids(conn, project, where, now=now, today=today, group=group):
        loaded = load_customers(conn, ids, project, groups=groups)
        yield [loaded[i] for i in ids if i in loaded]


def matching_rows(
    conn: Connection,
    project: Project,
    where: Expression | None,
    fields: Sequence[str],
    *,
    now: datetime,
    today: date,
    group: str | None = None,
    chunk: int = CHUNK,
) -> Iterator[tuple[int, Sequence[Sequence[Any]]]]:
    """The values of customer ``fields`` (not ``groups``) of the matching customers, typed as
    ``load_customers`` types them, in system_id order, in chunks, each with its last
    system_id: one streamed statement that reads only those fields (typed profile columns
    where the table has them), for exports of plain fields."""
    typed = typed_fields(conn, project)
    condition, params = _condition(conn, project, where, now, today, group, typed)
    reads = field_reads(conn.dialect.name, fields, project, typed)
    width = len(reads)
    if "system_id" in fields:
        last = fields.index("system_id")
    else:  # read after the fields, left out of the rows
        last = width
        reads.append(("c.system_id", None))
    selected = ", ".join(sql for sql, _ in reads)
    statement = f"SELECT {selected} FROM customers c WHERE {condition} ORDER BY c.system_id"
    changes = [(place, then) for place, (_, then) in enumerate(reads) if then is not None]
    for rows in streamed(conn, statement, {**params, "after": 0}, chunk):
        values: Sequence[Sequence[Any]] = rows  # mostly as the driver gives them: no copy per row
        if changes or last == width:  # a column at a time: zip and map run in C
            columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
            for place, then in changes:
                columns[place] = list(map(then, columns[place]))
            values = list(zip(*columns[:width], strict=True))
        yield rows[-1][last], values
