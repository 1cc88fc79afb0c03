"""An import object's HTTP pull, in the run's transaction: the pages read as rows, imported
as a CSV file is (so rejects and ``max_rejects`` work the same, the rejected items go to a CSV,
and a failure anywhere leaves nothing written), the entries handed on chunk by chunk, and the
newest change time kept for the next pull (the ``files`` table, kind ``pull``, one record per
object) only when the whole pull commits.

Pages are read with the object's ``retries`` and ``backoff`` (DESIGN.md 8): a transient failure
(connection error, timeout, 408/429/5xx, ``Retry-After`` honoured) is tried again within the
pull while the wait is short; a longer wait stops the pull with a ``TransientError`` and the
firing goes again after it, so no worker sleeps on it. Other 4xx answers fail at once."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING

from engine.errors import InputError
from engine.files.imports import ImportSpec, TooManyRejects, import_rows, write_rejects
from engine.files.pickup import entered
from engine.http.delivery import call_policy, http_sink
from engine.http.oauth import through_connection
from engine.model.retries import RetrySettings
from engine.pull.nested import Spool, inherited
from engine.pull.pages import ItemRows
from engine.pull.settings import PullSettings
from engine.sdk.batch import Entry
from engine.store import files as records

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from engine.files import Place
    from engine.files.imports import Imported, ImportReport
    from engine.sdk.context import RunContext

KIND = "pull"


def yield_all(chunks: Generator[list[Imported], None, ImportReport]) -> ImportReport:
    """Run an import to its end; its report."""
    while True:
        try:
            next(chunks)
        except StopIteration as done:
            report: ImportReport = done.value
            return report


def last_since(conn: Connection, flow: str, object_id: str) -> str | None:
    """The newest change time the object's last successful pull saw, or None."""
    found = records.find(conn, KIND, f"{flow}:{object_id}")
    return None if found is None else found.detail.get("since")


class HttpPull:
    """The pull of import object ``ctx.object_id``."""

    def __init__(
        self,
        ctx: RunContext,
        settings: PullSettings,
        spec: ImportSpec,
        *,
        wanted: Sequence[str],
        retry: RetrySettings,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.ctx, self.settings, self.spec, self.wanted = ctx, settings, spec, wanted
        self.retry = retry
        self.key = f"{ctx.flow.name}:{ctx.object_id}"
        self.progress = progress
        self.report: ImportReport | None = None
        self.nested_reports: dict[str, ImportReport] = {}

    @property
    def place(self) -> str:
        return self.settings.url

    def rejects_place(self, collection: str | None = None) -> Place:
        """Where the rejected items go: ``rejects``, or ``rejects/FLOW.OBJECT.rejects.csv``;
        those of nested records beside it, the collection in the name (``.COLLECTION.``)."""
        ctx, where = self.ctx, self.settings.rejects
        if where is not None:
            place = ctx.files.place(where)
        else:
            name = f"rejects/{self.key.replace(':', '.')}.rejects.csv"
            place = ctx.files.place(name, render=False)
        if collection is None:
            return place
        stem, dot, extension = place.name.rpartition(".")
        return place.sibling(
            f"{stem}.{collection}.{extension}" if dot else f"{extension}.{collection}"
        )

    def _import_nested(self, conn: Connection, spool: Spool) -> None:
        """Import a ``records`` entry's spooled rows (no entries: their customers entered with
        the items)."""
        ctx, collection = self.ctx, spool.nested.collection
        try:
            chunks = import_rows(
                conn,
                spool,
                spool.source,
                spool.spec(self.spec),
                ctx.project,
                ctx.now,
                keep_rows=False,
            )
            report = yield_all(chunks)
        except TooManyRejects as exc:
            write_rejects(exc.report, self.rejects_place(collection))
            raise
        if report.rejects:
            write_rejects(report, self.rejects_place(collection))
        self.nested_reports[collection] = report

    def entries(self) -> Iterator[list[Entry]]:
        """Pull and import in the run's transaction (open while this is iterated), a list of
        entries per stored chunk, then the nested records. Raises ``InputError`` (a page
        failed, too many rejects) and ``TransientError``: nothing of the run commits then."""
        ctx, settings = self.ctx, self.settings
        conn = ctx.transaction
        assert conn is not None, "iterate a pull's entries inside the run's transaction"
        if not self.spec.columns:
            raise InputError("an HTTP import needs columns: item path -> field")
        header = list(self.spec.columns)
        nested = [Spool(n, inherited(self.spec, n, ctx.project), header) for n in settings.records]
        since = last_since(conn, ctx.flow.name, ctx.object_id)
        if since is None and settings.since is not None:
            since = settings.since.initial
        try:
            rows = self._rows(since, nested)
            chunks = import_rows(
                conn, rows, rows.source, self.spec, ctx.project, ctx.now, progress=self.progress
            )
            try:
                self.report = yield from entered(chunks, self.wanted, rows.source)
            except TooManyRejects as exc:
                write_rejects(exc.report, self.rejects_place())
                raise
            if self.report.rejects:
                write_rejects(self.report, self.rejects_place())
            for spool in nested:
                self._import_nested(conn, spool)
        finally:
            for spool in nested:
                spool.close()
        if settings.since is not None and rows.newest is not None and rows.newest != since:
            self._keep_since(conn, rows, self.report)

    def _rows(self, since: str | None, nested: list[Spool]) -> ItemRows:
        """The pages as rows, read through the object's connection with its retries."""
        ctx, settings = self.ctx, self.settings
        joined, sink = through_connection(ctx, settings.connection)
        policy = call_policy(
            ctx,
            timeout=None,
            retries=self.retry.retries,
            backoff=self.retry.backoff,
            concurrency=1,
        )
        return ItemRows(
            settings.model_copy(update={"url": joined(settings.url)}),
            list(self.spec.columns or ()),
            sink or http_sink(ctx),
            policy,
            since=since,
            base_url=joined("/").rstrip("/") if settings.connection else "",
            nested=nested,
        )

    def _keep_since(self, conn: Connection, rows: ItemRows, report: ImportReport) -> None:
        """Note the newest change time read, for the next pull."""
        ctx = self.ctx
        found = records.find(conn, KIND, self.key)
        detail = {"since": rows.newest, "pages": rows.pages, "summary": report.summary()}
        if found is None:
            records.add(
                conn,
                KIND,
                self.key,
                flow=ctx.flow.name,
                object_id=ctx.object_id,
                location=rows.source,
                state="pulled",
                now=ctx.now,
                detail=detail,
            )
        else:
            records.change(conn, found.id, ctx.now, detail=detail)
