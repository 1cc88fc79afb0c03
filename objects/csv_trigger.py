"""``csv-trigger``: watches a folder; a file dropped in ``upload/`` whose name matches starts
the flow for exactly the customers in it.

Every ``poll`` (default 30s) the trigger looks at ``WATCH/upload/`` for files matching ``match``
(a glob on the file name, any case; default ``<flow name>*.csv``). A file is taken only once its
size and modification time are the same at two polls in a row, so a file still being uploaded
waits. Taking a file moves it to ``active/``; then it is imported into customers (``key``,
``columns``, ``delimiter``, ``encoding``, ``max_rejects`` as for ``import``), and every imported
customer (new, changed or unchanged) enters the flow with ``data.file``, ``data.import_status``
and ``data.row``, in one transaction. Then the file moves to ``done/`` (its rejected rows beside
it as ``NAME.rejects.csv``), or, when it could not be imported, to ``failed/`` with
``NAME.error.txt`` saying why; nothing of a failed file is written. Names never replace a file:
``-2``, ``-3``, ... go before the extension.

Progress is recorded in the database (the ``files`` table), so a file is processed once even
when the engine stops halfway: a file left in ``active/`` is imported when nothing was
committed for it, and only moved on when its import had committed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from engine.errors import SluisError
from engine.files import FileInfo, Place
from engine.files.folder import is_temporary
from engine.files.imports import (
    ImportReport,
    TooManyRejects,
    import_csv,
    rejects_place,
    write_rejects,
)
from engine.model.settings import Duration, LocationText
from engine.sdk.batch import Entry
from engine.sdk.campaign import CampaignObject, Every, Trigger
from engine.sdk.context import Enter, RunContext, Write
from objects.import_ import CsvImportSettings, entries_of

if TYPE_CHECKING:
    from sqlalchemy import Connection

FOLDERS = ("upload", "active", "done", "failed")
ALL_STATUSES = ("new", "changed", "unchanged")


class CsvTriggerSettings(CsvImportSettings):
    type: Literal["csv-trigger"]
    watch: LocationText
    match: str | None = None
    poll: Duration = timedelta(seconds=30)


class CsvTrigger(CampaignObject):
    type = "csv-trigger"
    Settings = CsvTriggerSettings
    can_start = True
    only_start = True
    entry_reason = "in the dropped file"

    @property
    def options(self) -> CsvTriggerSettings:
        settings = self.settings
        assert isinstance(settings, CsvTriggerSettings)
        return settings

    def trigger(self) -> Trigger:
        return Every(self.options.poll)

    def matches(self, entry: FileInfo) -> bool:
        name = entry.name
        if entry.is_dir or name.startswith(".") or is_temporary(name):
            return False
        if name.endswith((".rejects.csv", ".error.txt")):
            return False
        pattern = self.options.match or f"{self.flow.name}*.csv"
        return fnmatch.fnmatchcase(name.lower(), pattern.lower())

    def _key(self, stage: str, name: str) -> str:
        return f"{self.flow.name}:{self.id}:{stage}:{name}"

    def entries(self, ctx: RunContext) -> Iterable[Entry]:
        from engine.store import files as records

        watch = ctx.effects.files.place(self.options.watch, ctx.project, ctx.scope())
        for name in FOLDERS:
            watch.child(name).makedirs()
        with ctx.store.db.read() as conn:
            open_records = {r.key: r for r in records.of_object(conn, "trigger", *self._me())}
        active = watch.child("active")
        for record in open_records.values():
            if record.state in ("imported", "failed"):
                self._finish(ctx, watch, active.child(record.key.split(":", 3)[3]), record.id)
        with ctx.store.db.read() as conn:
            open_records = {r.key: r for r in records.of_object(conn, "trigger", *self._me())}
        for entry in active.list():  # left by a stop before anything was committed for them
            record = open_records.get(self._key("active", entry.name))
            if not self.matches(entry) or (record and record.state in ("imported", "failed")):
                continue
            self._queue(ctx, watch, active.child(entry.name), record.id if record else None)
        upload = watch.child("upload")
        listed = [e for e in upload.list() if self.matches(e)]
        for entry in listed:
            sighting = open_records.get(self._key("upload", entry.name))
            if sighting is None or (sighting.size, sighting.mtime) != (entry.size, entry.mtime):
                self._saw(ctx, upload.child(entry.name), entry, sighting)
                continue
            try:
                taken = upload.child(entry.name).move_to(active.child(entry.name))
            except SluisError:
                continue  # another worker took it first
            ctx.write(self._took(sighting.id, taken, ctx))
            self._queue(ctx, watch, taken, sighting.id)
        names = {e.name for e in listed}
        for key, record in open_records.items():
            if record.state == "seen" and key.split(":", 3)[3] not in names:
                ctx.write(self._forget(record.id))
        return ()

    def _took(self, record_id: int, taken: Place, ctx: RunContext) -> Write:
        from engine.store import files as records

        key, location, now = self._key("active", taken.name), str(taken), ctx.now

        def change(conn: Connection) -> None:
            records.change(conn, record_id, now, key=key, state="active", location=location)

        return change

    def _forget(self, record_id: int) -> Write:
        from engine.store import files as records

        def change(conn: Connection) -> None:
            records.remove(conn, record_id)

        return change

    def _me(self) -> tuple[str, str]:
        return self.flow.name, self.id

    def _saw(self, ctx: RunContext, place: Place, entry: FileInfo, sighting: Any) -> None:
        """Note a file's size and time; it is taken when they hold until the next poll."""
        from engine.store import files as records

        key, now = self._key("upload", entry.name), ctx.now

        def change(conn: Connection) -> None:
            if sighting is not None:
                records.change(conn, sighting.id, now, size=entry.size, mtime=entry.mtime)
                return
            records.add(
                conn,
                "trigger",
                key,
                flow=self.flow.name,
                object_id=self.id,
                location=str(place),
                state="seen",
                size=entry.size,
                mtime=entry.mtime,
                now=now,
            )

        ctx.write(change)

    def _queue(self, ctx: RunContext, watch: Place, file: Place, record_id: int | None) -> None:
        """Import ``file`` (in ``active/``) in the firing's transaction; a failing file rolls
        back only its own part and is marked failed."""
        from engine.store import files as records

        spec, project, now = self.options.spec(), ctx.project, ctx.now
        key = self._key("active", file.name)

        def change(conn: Connection, enter: Enter) -> None:
            rid = record_id
            if rid is None:
                rid = records.add(
                    conn,
                    "trigger",
                    key,
                    flow=self.flow.name,
                    object_id=self.id,
                    location=str(file),
                    state="active",
                    now=now,
                )
            report: ImportReport | None = None
            try:
                with conn.begin_nested():
                    report = import_csv(
                        conn,
                        file,
                        spec,
                        project,
                        now,
                        on_chunk=lambda rows: enter(entries_of(rows, ALL_STATUSES, file.name)),
                    )
                    records.change(
                        conn, rid, now, state="imported", detail={"summary": report.summary()}
                    )
            except SluisError as exc:
                report = exc.report if isinstance(exc, TooManyRejects) else None
                records.change(conn, rid, now, state="failed", detail={"reason": str(exc)})
            ctx.on_commit(lambda: self._finish(ctx, watch, file, rid, report))

        ctx.write_entering(change)

    def _finish(
        self,
        ctx: RunContext,
        watch: Place,
        file: Place,
        record_id: int,
        report: ImportReport | None = None,
    ) -> None:
        """Move a file whose import committed (or failed) on to done/ or failed/."""
        from engine.store import files as records

        with ctx.store.db.read() as conn:
            record = records.get(conn, record_id)
        if record is None or record.state not in ("imported", "failed"):
            return
        failed = record.state == "failed"
        final = file
        if file.exists():
            final = file.move_to(watch.child("failed" if failed else "done").child(file.name))
            if report is not None and report.rejects:
                write_rejects(report, rejects_place(final), encoding=self.options.encoding)
            if failed:
                reason = record.detail.get("reason", "the import failed")
                with final.sibling(f"{final.name}.error.txt").writer(replace=True) as out:
                    out.write(
                        f"{final.name} was not imported: {reason}\n"
                        f"Nothing of it was written. Fix the file and upload it to upload/ "
                        f"again.\n".encode()
                    )
        with ctx.store.db.write() as conn:
            records.close(
                conn,
                record_id,
                ctx.now,
                location=str(final),
                detail={**record.detail, "outcome": record.state},
            )
