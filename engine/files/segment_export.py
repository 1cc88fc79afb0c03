"""The rows of ``sluis export`` of customers: a segment (``--where``, ``--group``) as CSV cells.

An export whose columns are all plain customer fields reads just those fields in one streamed
statement (typed profile columns where the table has them) and writes them as they come; one
with templates, expressions or groups reads whole customers, with the records its columns use,
a chunk at a time. Both give the same cells for the same field."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from engine.files.exports import (
    Column,
    chunk_cells,
    matching_customers,
    plain_fields,
    write_cells,
    write_new,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from engine.files import Place
    from engine.model.expressions import Expression
    from engine.model.project import Project


def segment_cells(
    conn: Connection,
    project: Project,
    columns: Sequence[Column],
    *,
    where: Expression | None,
    group: str | None,
    now: datetime,
    today: date,
    scope: Mapping[str, Any],
    at: Callable[[int], None] = lambda system_id: None,
) -> Iterator[Sequence[Sequence[Any]]]:
    """The cells of the matching customers' rows in system_id order, in chunks. ``scope``: the
    template variables besides ``customer`` and ``records``; ``at`` is told the system_id
    reached (for progress bars)."""
    from engine.files.record_exports import collections_used, with_records

    fields = plain_fields(columns)
    if fields is not None:
        from engine.store.segments import matching_rows

        chosen = matching_rows(conn, project, where, fields, now=now, today=today, group=group)
        for last, values in chosen:
            yield chunk_cells(values)
            at(last)
        return
    used = collections_used(project, [c.template or c.expression for c in columns])
    found = matching_customers(conn, project, where, group, now, today, columns=columns)
    for customer, system_id, records in with_records(conn, project, used, found):
        row = {**scope, "customer": customer, "records": records}
        yield [[c.cell(row) for c in columns]]
        at(system_id)


def export_segment(
    conn: Connection,
    project: Project,
    place: Place,
    columns: Sequence[Column],
    *,
    where: Expression | None,
    group: str | None,
    now: datetime,
    today: date,
    scope: Mapping[str, Any],
    at: Callable[[int], None] = lambda system_id: None,
    delimiter: str = ",",
    header: bool = True,
) -> tuple[Place, int]:
    """``sluis export``: the segment's rows (``segment_cells``) to ``place``, or to it
    numbered when the name is taken; returns where they went and how many."""

    def write(target: Place) -> int:
        rows = segment_cells(
            conn,
            project,
            columns,
            where=where,
            group=group,
            now=now,
            today=today,
            scope=scope,
            at=at,
        )
        headers = [c.header for c in columns]
        return write_cells(target, headers, rows, delimiter=delimiter, header=header)

    return write_new(place, write)
