"""One-off imports and exports: ``sluis import`` and ``sluis export`` do the work of the import
and export objects outside any flow, with a progress bar and a summary. A bad file or option is
one line and a non-zero exit; an import commits all or nothing, an export file appears whole or
not at all."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import ProjectOpt, console, err_console, open_project
from engine.errors import ExpressionError, InputError
from engine.files.csvin import ENCODINGS

if TYPE_CHECKING:
    from rich.progress import Progress

    from engine.files import Files, Place
    from engine.files.exports import Column
    from engine.model.expressions import Expression
    from engine.model.project import Project
    from engine.model.templates import Template


DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|", "\\t": "\t"}


def place_of(text: str, project: Project, files: Files, scope: dict[str, Any]) -> Place:
    """A location given on the command line: sftp:// and file:// as in flows, any other path
    relative to the current folder."""
    if not text.startswith(("sftp://", "file://")):
        text = "file://" + str(Path(text).expanduser().resolve())
    return files.place(text, project, scope)


def _delimiter(value: str | None) -> str | None:
    if value is None:
        return None
    chosen = DELIMITER_NAMES.get(value, value)
    if len(chosen) != 1:
        raise InputError(f"--delimiter '{value}' is not one character; use for example ';' or tab")
    return chosen


def _columns_map(values: list[str] | None) -> dict[str, str] | None:
    if not values:
        return None
    mapping: dict[str, str] = {}
    for value in values:
        for item in value.split(","):
            header, sep, field = item.partition("=")
            if not sep or not header.strip() or not field.strip():
                raise InputError(
                    f"--columns '{item}' is not HEADER=FIELD; e.g. --columns Klantnr=external_id"
                )
            mapping[header.strip()] = field.strip()
    return mapping


def _now() -> datetime:
    return datetime.now(UTC)


def _scope(now: datetime, project: Project) -> dict[str, Any]:
    """Template variables outside a flow: ``today`` in the project's time zone, as a flow's
    templates have it in the flow's (DESIGN section 7)."""
    from engine.model.templates import local_today

    today = local_today(now, project.settings.timezone)
    return {"customer": {}, "data": {}, "now": now, "today": today, "flow": "", "object": ""}


def _progress(**columns: Any) -> Progress:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        *columns.values(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )


def import_file(
    file: Annotated[str, typer.Argument(help="The CSV: a path, file:///abs or sftp://NAME/path.")],
    into: Annotated[
        str, typer.Option("--into", help="customers, or a datamodel collection.")
    ] = "customers",
    key: Annotated[
        str | None,
        typer.Option("--key", help="external_id, email, system_id, or the collection key."),
    ] = None,
    columns: Annotated[
        list[str] | None,
        typer.Option("--columns", help="HEADER=FIELD,... to map CSV columns (repeatable)."),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="One character or tab; default: detected.")
    ] = None,
    encoding: Annotated[
        str, typer.Option("--encoding", help=f"One of {', '.join(ENCODINGS)}.")
    ] = "utf-8",
    max_rejects: Annotated[
        int, typer.Option("--max-rejects", min=0, help="Bad rows to allow before giving up.")
    ] = 0,
    project: ProjectOpt = None,
) -> None:
    """Import a CSV into customers or a collection, all or nothing; bad rows go to
    NAME.rejects.csv beside the file."""
    from rich.progress import DownloadColumn, TextColumn
    from rich.table import Table

    from engine.files import Files
    from engine.files.imports import (
        ImportSpec,
        TooManyRejects,
        check_spec,
        import_csv,
        rejects_place,
        write_rejects,
    )
    from engine.store import Store
    from engine.store.statistics import Growth

    proj = open_project(project)
    spec = ImportSpec(
        into=into,
        key=key,
        columns=_columns_map(columns),
        delimiter=_delimiter(delimiter),
        encoding=encoding,
        max_rejects=max_rejects,
    )
    check_spec(spec, proj)
    if encoding not in ENCODINGS:
        raise InputError(f"--encoding {encoding} is not one of {', '.join(ENCODINGS)}")
    files = Files()
    now = _now()
    try:
        place = place_of(file, proj, files, _scope(now, proj))
        info = place.info()
        if info is None or info.is_dir:
            raise InputError(f"{place}: no such file")
        store = Store.open(proj)
        with _progress(size=DownloadColumn(), rows=TextColumn("{task.fields[rows]:,} rows")) as bar:
            task = bar.add_task(f"importing {place.name}", total=info.size, rows=0)

            def progress(done: int, rows: int) -> None:
                bar.update(task, completed=done, rows=rows)

            try:
                with store.db.write() as conn:
                    report = import_csv(conn, place, spec, proj, now, progress=progress)
            except TooManyRejects as exc:
                write_rejects(exc.report, rejects_place(place), encoding=encoding)
                raise
        if report.rejects:
            write_rejects(report, rejects_place(place), encoding=encoding)
        table_of = "customers" if spec.into == "customers" else "records"
        analyzing = Growth(store.db).add([table_of], report.counts["new"])
        if analyzing is not None:  # PostgreSQL plans for the new size from now on
            analyzing.join()
        store.db.dispose()
    finally:
        files.close()
    console.print(f"imported {place}", soft_wrap=True)
    table = Table("new", "changed", "unchanged", "rejected", "seconds")
    counts = report.counts
    table.add_row(
        f"{counts['new']:,}",
        f"{counts['changed']:,}",
        f"{counts['unchanged']:,}",
        f"{len(report.rejects):,}",
        f"{report.seconds:.1f}",
    )
    console.print(table)
    if report.rejects_file:
        console.print(f"rejected rows: {report.rejects_file}", soft_wrap=True)


def export_customers(
    to: Annotated[
        str,
        typer.Option("--to", help="Where: a path, file:///abs or sftp://NAME/path (templates)."),
    ],
    columns: Annotated[
        list[str],
        typer.Option(
            "--columns",
            help="Fields (external_id,email,...) or HEADER={{ template }}; repeatable.",
        ),
    ],
    where: Annotated[
        str | None, typer.Option("--where", help="An expression choosing the customers.")
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="A datamodel collection: one row per record (columns: its fields and "
            "customer.FIELD; --where tests each record).",
        ),
    ] = None,
    group: Annotated[str | None, typer.Option("--group", help="Only this group.")] = None,
    delimiter: Annotated[str, typer.Option("--delimiter", help="One character or tab.")] = ",",
    header: Annotated[bool, typer.Option("--header/--no-header", help="A header row.")] = True,
    project: ProjectOpt = None,
) -> None:
    """Export customers to one CSV; an existing name gets -2, -3, ... (never overwritten)."""
    from rich.table import Table
    from sqlalchemy import func, select

    from engine.files import Files
    from engine.files.segment_export import export_segment
    from engine.model.expressions import Expression
    from engine.runtime.gctune import leave_start_up
    from engine.store import Store
    from engine.store.models import CUSTOMERS
    from engine.store.sqlexpr import check as check_where
    from engine.store.sqlexpr import fields_of

    proj = open_project(project)
    if from_ is not None:
        from cli.recordexport import export_records

        export_records(proj, from_, to, columns, where, _delimiter(delimiter) or ",", header)
        return
    chosen = _export_columns(columns, proj)
    sep = _delimiter(delimiter) or ","
    expr = None
    if where is not None:
        try:
            expr = Expression.parse(where)
            check_where(expr, *fields_of(proj))
        except ExpressionError as exc:
            raise InputError(f"--where: {exc} (at column {exc.offset + 1})") from None
    files = Files()
    now = _now()
    started = time.perf_counter()
    store = Store.open(proj)
    leave_start_up()
    try:
        scope = _scope(now, proj)
        place = place_of(to, proj, files, scope)
        with store.db.read() as conn, _progress() as bar:
            # customers are read in system_id order: the bar runs through the ids
            last = conn.execute(select(func.max(CUSTOMERS.c.system_id))).scalar_one() or 0
            task = bar.add_task(f"exporting to {place.name}", total=last)

            final, rows = export_segment(
                conn,
                proj,
                place,
                chosen,
                where=expr,
                group=group,
                now=now,
                today=scope["today"],
                scope=scope,
                at=lambda system_id: bar.update(task, completed=system_id),
                delimiter=sep,
                header=header,
            )
    finally:
        files.close()
    console.print(f"exported to {final}", soft_wrap=True)
    table = Table("rows", "seconds")
    table.add_row(f"{rows:,}", f"{time.perf_counter() - started:.1f}")
    console.print(table)


def _export_columns(values: list[str], project: Project) -> list[Column]:
    from engine.files.exports import column_value, columns_of
    from engine.files.record_exports import check_names
    from engine.model.expressions import Expression

    specs: list[Any] = []
    for value in values:
        items = [value] if "{" in value else value.split(",")
        for item in items:
            name, sep, template = item.partition("=")
            if sep and "{" not in name:
                specs.append(_Spec(name.strip(), column_value(template.strip())))
            else:
                specs.append(item.strip())
    columns = columns_of(specs, project.customer_fields)
    for column in columns:
        if isinstance(column.expression, Expression):
            check_names(column.expression, project)
    return columns


class _Spec:
    def __init__(self, header: str, value: Template | Expression) -> None:
        self.header = header
        self.value = value


def register(app: typer.Typer) -> None:
    app.command("import")(import_file)
    app.command("export")(export_customers)
