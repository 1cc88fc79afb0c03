"""``sluis export --from COLLECTION``: datamodel records to one CSV, one row per record (see
``engine/files/record_exports.py``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from cli.common import console
from cli.files import _now, _progress, _scope, place_of
from engine.errors import ExpressionError, InputError

if TYPE_CHECKING:
    from engine.model.project import Project


def export_records(
    proj: Project,
    collection: str,
    to: str,
    columns: list[str],
    where: str | None,
    sep: str,
    header: bool,
) -> None:
    """``sluis export --from COLLECTION``: one row per record."""
    from rich.progress import MofNCompleteColumn
    from rich.table import Table

    from engine.files import Files
    from engine.files.exports import write_csv, write_new
    from engine.files.record_exports import (
        check_names,
        record_columns,
        record_condition,
        record_scopes,
    )
    from engine.model.project import collection_of
    from engine.store import Store
    from engine.store.raw import fetch

    collection_of(proj, collection)
    chosen = record_columns([c for value in columns for c in value.split(",")], proj, collection)
    condition = None
    if where is not None:
        try:
            condition = record_condition(collection, where)
        except ExpressionError as exc:
            raise InputError(f"--where: {exc} (at column {exc.offset + 1})") from None
        check_names(condition, proj)
    files = Files()
    now = _now()
    scope = _scope(now, proj)
    today = scope["today"]
    started = time.perf_counter()
    store = Store.open(proj)
    try:
        place = place_of(to, proj, files, scope)
        with store.db.read() as conn, _progress(count=MofNCompleteColumn()) as bar:
            (total,) = fetch(
                conn, "SELECT count(*) FROM records WHERE collection = ?", [collection]
            )[0]
            task = bar.add_task(f"exporting {collection} to {place.name}", total=total)

            def scopes() -> Any:
                for scope in record_scopes(conn, proj, collection, condition, now, today):
                    bar.advance(task)
                    yield scope

            final, rows = write_new(
                place,
                lambda target: write_csv(target, scopes(), chosen, delimiter=sep, header=header),
            )
    finally:
        files.close()
    console.print(f"exported to {final}", soft_wrap=True)
    table = Table("rows", "seconds")
    table.add_row(f"{rows:,}", f"{time.perf_counter() - started:.1f}")
    console.print(table)
