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

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from engine.errors import InputError
from engine.files.imports import ImportSpec, TooManyRejects, import_rows, write_rejects
from engine.files.pickup import entered
from engine.http.delivery import call_policy, http_sink
from engine.http.oauth import through_connection
from engine.model.retries import RetrySettings
from engine.pull.pages import ItemRows
from engine.pull.settings import PullSettings
from engine.sdk.batch import Entry
from engine.store import files as records

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from engine.files import Place
    from engine.files.imports import ImportReport
    from engine.sdk.context import RunContext

KIND = "pull"


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

    @property
    def place(self) -> str:
        return self.settings.url

    def rejects_place(self) -> Place:
        """Where the rejected items go: ``rejects``, or ``rejects/FLOW.OBJECT.rejects.csv``."""
        ctx, where = self.ctx, self.settings.rejects
        if where is not None:
            return ctx.files.place(where)
        return ctx.files.place(f"rejects/{self.key.replace(':', '.')}.rejects.csv", render=False)

    def entries(self) -> Iterator[list[Entry]]:
        """Pull and import in the run's transaction (open while this is iterated), a list of
        entries per stored chunk. Raises ``InputError`` (a page failed, too many rejects):
        nothing of the run commits then."""
        ctx, settings = self.ctx, self.settings
        conn = ctx.transaction
        assert conn is not None, "iterate a pull's entries inside the run's transaction"
        if not self.spec.columns:
            raise InputError("an HTTP import needs columns: item path -> field")
        joined, sink = through_connection(ctx, settings.connection)
        since = last_since(conn, ctx.flow.name, ctx.object_id)
        if since is None and settings.since is not None:
            since = settings.since.initial
        rows = ItemRows(
            settings.model_copy(update={"url": joined(settings.url)}),
            list(self.spec.columns),
            sink or http_sink(ctx),
            call_policy(
                ctx,
                timeout=None,
                retries=self.retry.retries,
                backoff=self.retry.backoff,
                concurrency=1,
            ),
            since=since,
            base_url=joined("/").rstrip("/") if settings.connection else "",
        )
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
        newest = rows.newest
        if settings.since is not None and newest is not None and newest != since:
            found = records.find(conn, KIND, self.key)
            detail = {"since": newest, "pages": rows.pages, "summary": self.report.summary()}
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
