"""Reading customers from a CSV (``--customers`` of replay, start and retry): the header names
the fields, ``external_id`` (else ``email``) identifies customers, an empty or missing cell is
null, and a key that comes again is the same customer: its later row wins. A bad row refuses the
file, naming its line; nothing of the file is stored then.

The rows are typed a column at a time and stored by the import's ``import_customers``, a chunk at
a time: memory stays flat whatever the file's size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from engine.errors import InputError
from engine.files.csvin import CsvRows, read_csv_file
from engine.model.project import Project
from engine.store.customer_import import import_customers
from engine.store.customers import typed_columns

CHUNK = 10_000  # rows typed and stored at a time


@dataclass
class CustomersCsv:
    """An open customers CSV: the key that identifies its customers, its rows typed in
    chunks."""

    path: Path
    key: str
    project: Project
    _rows: CsvRows

    def chunks(self, size: int = CHUNK) -> Iterator[dict[str, list[Any]]]:
        """The typed values by field, ``size`` rows at a time; ``InputError`` names the line
        of the first bad row."""
        width = len(self._rows.header)
        lines: list[int] = []
        rows: list[list[str]] = []
        for line, cells in self._rows:
            if len(cells) > width:
                raise InputError(f"{self.path}:{line}: more cells than header columns")
            if len(cells) < width:
                cells += [""] * (width - len(cells))  # a missing cell is empty: null
            lines.append(line)
            rows.append(cells)
            if len(rows) == size:
                yield self._typed(lines, rows)
                lines, rows = [], []
        if rows:
            yield self._typed(lines, rows)

    def _typed(self, lines: Sequence[int], rows: Sequence[list[str]]) -> dict[str, list[Any]]:
        named = [(name, at) for at, name in enumerate(self._rows.header) if name]
        try:
            typed, faults = typed_columns(
                {name: [cells[at] for cells in rows] for name, at in named}, self.project
            )
        except InputError as exc:  # a column that is no customer field
            raise InputError(f"{self.path}: {exc}") from None
        keyless = next((i for i, value in enumerate(typed[self.key]) if value is None), None)
        first = min(faults, default=None)
        if first is not None and (keyless is None or first <= keyless):
            raise InputError(f"{self.path}:{lines[first]}: {faults[first][1]}")
        if keyless is not None:
            raise InputError(
                f"{self.path}:{lines[keyless]}: no {self.key}; every customer needs one"
            )
        return typed


@contextmanager
def open_customers(path: Path, project: Project) -> Iterator[CustomersCsv]:
    """Open a customers CSV; its header must name external_id or email."""
    with read_csv_file(path) as reader:
        header = reader.header
        key = "external_id" if "external_id" in header else "email" if "email" in header else None
        if key is None:
            raise InputError(
                f"{path}: the header needs an external_id or email column to identify "
                f"customers (it has {', '.join(header) or 'no columns'})"
            )
        yield CustomersCsv(path, key, project, reader)


def read_customer_keys(path: Path, project: Project) -> tuple[list[Any], str]:
    """The key of each row of a customers CSV (its rows checked as loading them checks them)
    and which key that is."""
    with open_customers(path, project) as customers:
        key = customers.key
        return [value for chunk in customers.chunks() for value in chunk[key]], key


def load_customers_csv(
    conn: Connection, path: Path, project: Project, now: datetime, *, chunk: int = CHUNK
) -> list[int]:
    """Upsert the customers of a CSV, a chunk at a time (on ``conn``: a bad row further on
    rolls back the chunks before it with the caller's transaction); return their system_ids
    in file order."""
    ids: list[int] = []
    with open_customers(path, project) as customers:
        for typed in customers.chunks(chunk):
            ids += _store(conn, typed, customers.key, project, now)
    return ids


def _store(
    conn: Connection, typed: dict[str, list[Any]], key: str, project: Project, now: datetime
) -> list[int]:
    """Store a chunk's typed rows; the system_id of each. Rows of one customer (the same key;
    emails in any case) are stored as one, with the values of the last of them."""
    idents = [str(v).lower() for v in typed[key]] if key == "email" else typed[key]
    unique = list(dict.fromkeys(idents))  # each customer once, in the order of its first row
    if len(unique) < len(idents):
        last = {ident: at for at, ident in enumerate(idents)}
        typed = {name: [values[last[ident]] for ident in unique] for name, values in typed.items()}
    stored = import_customers(conn, typed, key=key, project=project, now=now)
    system_ids = {ident: system_id for ident, (system_id, _) in zip(unique, stored, strict=True)}
    return [system_ids[ident] for ident in idents]
