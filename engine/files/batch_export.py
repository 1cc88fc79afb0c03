"""One export file per batch: its name is reserved for the batch in the database before the
file is written (that reservation commits at once), so a batch that runs again after a crash
finds its file and does not write a second one; the reservation ends with the batch's
routing, and the name may be used again once the file is gone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.files import NameTaken
from engine.files.exports import Column, reserve, write_csv
from engine.store import files as records

if TYPE_CHECKING:
    from engine.sdk.batch import Batch
    from engine.sdk.context import RunContext


def export_batch(
    ctx: RunContext,
    location: Any,
    batch: Batch,
    columns: Sequence[Column],
    *,
    delimiter: str = ",",
    header: bool = True,
    rows: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    """Write the batch's rows (one per journey, over ``ctx.scope(journey)``) to a new file at
    ``location`` (``-2``, ``-3``, ... before the extension when the name is taken), or find
    the one an earlier run of this batch wrote; returns where it is. ``rows``: the scopes of
    the rows instead (an export of records: one per record)."""
    files = ctx.files
    place = files.place(location)

    def reserved(again: bool = False) -> str:
        with ctx.writing() as conn:
            return reserve(
                conn,
                place,
                batch.key,
                flow=ctx.flow.name,
                object_id=ctx.object_id,
                now=ctx.now,
                again=again,
            )

    written = reserved()
    target = files.place(written, render=False)
    while not target.exists():  # else: written by an earlier run of this batch
        try:
            write_csv(
                target,
                rows if rows is not None else (ctx.scope(journey) for journey in batch),
                columns,
                delimiter=delimiter,
                header=header,
            )
        except NameTaken:  # someone else's file took the name meanwhile
            written = reserved(again=True)
            target = files.place(written, render=False)
    at, key, count = ctx.now, batch.key, len(batch) if rows is None else len(rows)

    def done(conn: Any) -> None:
        found = records.find_batch(conn, "export", key)
        if found is not None:
            records.close(conn, found.id, at, detail={"rows": count})

    ctx.journal(done)
    return written
