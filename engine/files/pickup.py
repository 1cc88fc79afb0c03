"""An import object's file: imported once into customers or a collection in the run's
transaction, its rows handed on as entries as they are stored, and moved or deleted once
that transaction committed (the ``after`` step). A restart between the commit and the
``after`` step does that step without importing again: a committed import whose ``after`` is
still to do is noted in the ``files`` table."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from engine.errors import InputError
from engine.files.imports import (
    Imported,
    ImportReport,
    ImportSpec,
    TooManyRejects,
    import_chunks,
    rejects_place,
    write_rejects,
)
from engine.sdk.batch import Entry
from engine.store import files as records

if TYPE_CHECKING:
    from engine.files import Place
    from engine.model.locations import Location
    from engine.sdk.context import RunContext


def entries_of(rows: Sequence[Imported], wanted: Iterable[str], source: str) -> list[Entry]:
    """The entries of imported rows whose status is wanted (rows without customer: none).
    Each row's values become its entry's ``data.row`` as they are (a dict of its own)."""
    reasons = {status: f"imported: {status}" for status in wanted}
    return [
        Entry(
            row.customer_id,
            {"import_status": row.status, "file": source, "row": row.values},
            reasons[row.status],
        )
        for row in rows
        if row.customer_id is not None and row.status in reasons
    ]


def entered(
    chunks: Generator[list[Imported], None, ImportReport], wanted: Iterable[str], source: str
) -> Generator[list[Entry], None, ImportReport]:
    """The entries of an import's stored chunks, a list per chunk; returns its report."""
    while True:
        try:
            rows = next(chunks)
        except StopIteration as done:
            report: ImportReport = done.value
            return report
        yield entries_of(rows, wanted, source)


class Pickup:
    """The file at ``place`` that the import object ``object_id`` of ``flow`` picks up;
    ``delete`` or ``move`` (a location: a file, or a folder to move it into) once imported."""

    def __init__(
        self,
        ctx: RunContext,
        place: Place,
        spec: ImportSpec,
        *,
        wanted: Sequence[str],
        delete: bool = False,
        move: Location | None = None,
    ) -> None:
        self.ctx, self.place, self.spec, self.wanted = ctx, place, spec, wanted
        self.delete, self.move = delete, move
        self.key = f"{ctx.flow.name}:{ctx.object_id}"

    @property
    def after(self) -> bool:
        return self.delete or self.move is not None

    def only_after_left(self) -> bool:
        """True when the file was imported and committed before a restart and only its
        ``after`` step is left (done once this run commits); else forget such a note."""
        ctx, place = self.ctx, self.place
        with ctx.reading() as conn:
            pending = records.find(conn, "import", self.key)
        if pending is None:
            return False
        info = place.info() if pending.location == str(place) else None
        if info is not None and (info.size, info.mtime) == (pending.size, pending.mtime):
            ctx.after_commit(lambda: self._after(pending.id))
            return True
        ctx.journal(lambda conn: records.remove(conn, pending.id))
        return False

    def entries(self) -> Iterator[list[Entry]]:
        """Import the file in the run's transaction (open while this is iterated), a list of
        entries per stored chunk; rejects go beside the file. Raises ``InputError`` when there
        is no file and ``TooManyRejects``: nothing of the run commits then."""
        ctx, place, spec = self.ctx, self.place, self.spec
        conn = ctx.transaction
        assert conn is not None, "iterate a pickup's entries inside the run's transaction"
        info = place.info()
        if info is None:
            raise InputError(f"{place}: no such file to import; check from: and the folder")
        chunks = import_chunks(conn, place, spec, ctx.project, ctx.now)
        try:
            report = yield from entered(chunks, self.wanted, str(place))
        except TooManyRejects as exc:
            write_rejects(exc.report, rejects_place(place), encoding=spec.encoding)
            raise
        if report.rejects:
            write_rejects(report, rejects_place(place), encoding=spec.encoding)
        if self.after:
            made = records.add(
                conn,
                "import",
                self.key,
                flow=ctx.flow.name,
                object_id=ctx.object_id,
                location=str(place),
                state="imported",
                size=info.size,
                mtime=info.mtime,
                now=ctx.now,
                detail={"summary": report.summary()},
            )
            ctx.after_commit(lambda: self._after(made))

    def _after(self, record_id: int) -> None:
        """Move or delete the imported file, then forget the note."""
        place, move = self.place, self.move
        if self.delete:
            place.delete()
        elif move is not None:
            target = self.ctx.files.place(move)
            info = target.info()
            if str(move).endswith("/") or (info is not None and info.is_dir):
                target = target.child(place.name)
            place.move_to(target)
        with self.ctx.writing() as conn:
            records.remove(conn, record_id)
