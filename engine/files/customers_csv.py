"""Reading customers from a CSV (``--customers`` of replay and start): the header names the
fields, ``external_id`` and/or ``email`` identify customers, an empty cell is null."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from engine.errors import InputError
from engine.files.csvin import CsvRows, read_csv_file
from engine.model.project import Project
from engine.store.customers import typed_row, upsert_customers

CHUNK = 10_000  # rows typed and stored at a time: memory stays flat whatever the file's size


@dataclass
class CustomersCsv:
    """An open customers CSV: the key that identifies its customers, its rows typed in
    chunks."""

    path: Path
    key: str
    project: Project
    _rows: CsvRows

    def chunks(self, size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
        """The typed rows, ``size`` at a time; ``InputError`` names the line of a bad one."""
        chunk: list[dict[str, Any]] = []
        for number, raw in self._rows.dicts():
            try:
                row = typed_row(raw, self.project)
            except InputError as exc:
                raise InputError(f"{self.path}:{number}: {exc}") from None
            if row.get(self.key) is None:
                raise InputError(f"{self.path}:{number}: no {self.key}; every customer needs one")
            chunk.append(row)
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


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


def read_customers(path: Path, project: Project) -> tuple[list[dict[str, Any]], str]:
    """Typed rows of a customers CSV and the key that identifies them."""
    with open_customers(path, project) as customers:
        return [row for chunk in customers.chunks() for row in chunk], customers.key


def load_customers_csv(
    conn: Connection, path: Path, project: Project, now: datetime, *, chunk: int = CHUNK
) -> list[int]:
    """Upsert the customers of a CSV, a chunk at a time (on ``conn``: a bad row further on
    rolls back the chunks before it with the caller's transaction); return their system_ids
    in file order."""
    ids: list[int] = []
    with open_customers(path, project) as customers:
        for rows in customers.chunks(chunk):
            stored = upsert_customers(conn, rows, key=customers.key, project=project, now=now)
            ids += [sid for sid, _ in stored]
    return ids
