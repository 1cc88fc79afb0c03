"""A csv-trigger's folder: which files are new, still being uploaded, taken, imported, done or
failed, recorded in the ``files`` table so a file is processed once even when the engine
stops halfway.

The folder (``WATCH``) has ``upload/``, ``active/``, ``done/`` and ``failed/``. A file in
``upload/`` whose name matches is taken once its size and modification time are the same at
two polls in a row (a file still being uploaded waits): it moves to ``active/`` and is imported
in the firing's transaction, its customers entering the flow as its chunks are stored. Once
that transaction committed the file moves to ``done/`` (its rejects beside it), or, when it
could not be imported, to ``failed/`` with ``NAME.error.txt`` saying why; nothing of a failed
file is written. A file left in ``active/`` is imported when nothing was committed for it, and
only moved on when its import had committed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.errors import SluisError, TransientError
from engine.files.folder import FileInfo, is_temporary
from engine.files.imports import (
    ImportReport,
    ImportSpec,
    TooManyRejects,
    import_chunks,
    rejects_place,
    write_rejects,
)
from engine.files.pickup import entered
from engine.model.retries import Tries
from engine.sdk.batch import Entry
from engine.store import files as records
from engine.store.events import EventRecord, add_events

if TYPE_CHECKING:
    from engine.files import Place
    from engine.sdk.context import RunContext

FOLDERS = ("upload", "active", "done", "failed")
ALL_STATUSES = ("new", "changed", "unchanged")


class FileTrigger:
    """The folder ``watch`` of the csv-trigger running in ``ctx``; files whose name matches
    ``match`` (a glob, any case) are imported by ``spec``."""

    def __init__(
        self, ctx: RunContext, watch: Place, spec: ImportSpec, *, match: str, retries: int = 0
    ) -> None:
        self.ctx, self.watch, self.spec, self.match = ctx, watch, spec, match
        self.flow, self.object_id = ctx.flow.name, ctx.object_id
        self.retries = retries  # a lost connection: the file is tried again at the next polls
        self._tries: dict[int, Tries] = {}  # record id -> tries so far

    def matches(self, entry: FileInfo) -> bool:
        name = entry.name
        if entry.is_dir or name.startswith(".") or is_temporary(name):
            return False
        if name.endswith((".rejects.csv", ".error.txt")):
            return False
        return fnmatch.fnmatchcase(name.lower(), self.match.lower())

    def entries(self) -> Iterator[list[Entry]]:
        """One poll, in the firing's transaction (open while this is iterated): finish what
        an earlier poll left, note new files, take the steady ones, and import what was taken,
        a list of entries per stored chunk."""
        ctx, watch = self.ctx, self.watch
        for name in FOLDERS:
            watch.child(name).makedirs()
        active = watch.child("active")
        open_records = {}
        for record in self._open():
            if record.state in ("imported", "failed"):
                self._finish(active.child(_name(record.key)), record.id)
            else:
                open_records[record.key] = record
        taken: list[tuple[Place, int | None]] = []
        for entry in active.list():  # left by a stop before anything was committed for them
            record = open_records.get(self._key("active", entry.name))
            if not self.matches(entry) or (record and record.state in ("imported", "failed")):
                continue
            if record is not None:
                detail = record.detail or {}
                first = detail.get("first")
                self._tries[record.id] = Tries(
                    int(detail.get("tries", 0)), datetime.fromisoformat(first) if first else None
                )
            taken.append((active.child(entry.name), record.id if record else None))
        upload = watch.child("upload")
        listed = [e for e in upload.list() if self.matches(e)]
        for entry in listed:
            sighting = open_records.get(self._key("upload", entry.name))
            if sighting is None or (sighting.size, sighting.mtime) != (entry.size, entry.mtime):
                self._saw(upload.child(entry.name), entry, sighting)
                continue
            try:
                file = upload.child(entry.name).move_to(active.child(entry.name))
            except SluisError:
                continue  # another worker took it first
            self._took(sighting.id, file)
            taken.append((file, sighting.id))
        names = {e.name for e in listed}
        gone = [
            r.id for k, r in open_records.items() if r.state == "seen" and _name(k) not in names
        ]
        if gone:
            with ctx.writing() as conn:
                for record_id in gone:
                    records.remove(conn, record_id)
        for file, record_id in taken:
            yield from self._import(file, record_id)

    def _key(self, stage: str, name: str) -> str:
        return f"{self.flow}:{self.object_id}:{stage}:{name}"

    def _open(self) -> list[Any]:
        with self.ctx.reading() as conn:
            return records.of_object(conn, "trigger", self.flow, self.object_id)

    def _saw(self, place: Place, entry: FileInfo, sighting: Any) -> None:
        """Note a file's size and time; it is taken when they hold until the next poll."""
        key, now = self._key("upload", entry.name), self.ctx.now
        with self.ctx.writing() as conn:
            if sighting is not None:
                records.change(conn, sighting.id, now, size=entry.size, mtime=entry.mtime)
                return
            records.add(
                conn,
                "trigger",
                key,
                flow=self.flow,
                object_id=self.object_id,
                location=str(place),
                state="seen",
                size=entry.size,
                mtime=entry.mtime,
                now=now,
            )

    def _took(self, record_id: int, file: Place) -> None:
        key, now = self._key("active", file.name), self.ctx.now
        with self.ctx.writing() as conn:
            records.change(conn, record_id, now, key=key, state="active", location=str(file))

    def _import(self, file: Place, record_id: int | None) -> Iterator[list[Entry]]:
        """Import ``file`` (in ``active/``); a failing file rolls back only its own part (its
        rows and entries) and is marked failed."""
        ctx, now = self.ctx, self.ctx.now
        conn = ctx.transaction
        assert conn is not None, "iterate a trigger's entries inside the run's transaction"
        rid = record_id
        if rid is None:
            rid = records.add(
                conn,
                "trigger",
                self._key("active", file.name),
                flow=self.flow,
                object_id=self.object_id,
                location=str(file),
                state="active",
                now=now,
            )
        report: ImportReport | None = None
        try:
            with conn.begin_nested():
                chunks = import_chunks(conn, file, self.spec, ctx.project, now)
                report = yield from entered(chunks, ALL_STATUSES, file.name)
                records.change(
                    conn, rid, now, state="imported", detail={"summary": report.summary()}
                )
        except SluisError as exc:
            report = exc.report if isinstance(exc, TooManyRejects) else None
            tries = self._tries.get(rid, Tries(0, None)).then(1, now)
            if isinstance(exc, TransientError) and tries.made <= self.retries:
                # the file stays in active/: the next poll tries it again
                first = tries.first.isoformat() if tries.first else None
                detail = {"tries": tries.made, "first": first, "reason": str(exc)}
                records.change(conn, rid, now, detail=detail)
                return
            if isinstance(exc, TransientError):
                exc = TransientError(f"{exc} {tries.over(now)}")
            records.change(conn, rid, now, state="failed", detail={"reason": str(exc)})
            why = {"reason": f"failed: {file.name}: {exc}", "file": file.name}
            event = EventRecord("failed", now, flow=self.flow, object=self.object_id, data=why)
            add_events(conn, [event])
        done = rid
        ctx.after_commit(lambda: self._finish(file, done, report))

    def _finish(self, file: Place, record_id: int, report: ImportReport | None = None) -> None:
        """Move a file whose import committed (or failed) on to done/ or failed/."""
        ctx = self.ctx
        with ctx.reading() as conn:
            record = records.get(conn, record_id)
        if record is None or record.state not in ("imported", "failed"):
            return
        failed = record.state == "failed"
        final = file
        if file.exists():
            final = file.move_to(self.watch.child("failed" if failed else "done").child(file.name))
            if report is not None and report.rejects:
                write_rejects(report, rejects_place(final), encoding=self.spec.encoding)
            if failed:
                reason = record.detail.get("reason", "the import failed")
                with final.sibling(f"{final.name}.error.txt").writer(replace=True) as out:
                    out.write(
                        f"{final.name} was not imported: {reason}\n"
                        f"Nothing of it was written. Fix the file and upload it to upload/ "
                        f"again.\n".encode()
                    )
        with ctx.writing() as conn:
            records.close(
                conn,
                record_id,
                ctx.now,
                location=str(final),
                detail={**record.detail, "outcome": record.state},
            )


def _name(key: str) -> str:
    """The file name in a record's key (``FLOW:OBJECT:STAGE:NAME``)."""
    return key.split(":", 3)[3]
