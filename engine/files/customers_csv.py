"""Reading customers from a CSV (``--customers`` of replay and start): the header names the
fields, ``external_id`` and/or ``email`` identify customers, an empty cell is null."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from engine.errors import InputError
from engine.files.csvin import read_csv_file
from engine.model.project import Project
from engine.store.customers import typed_row, upsert_customers


def read_customers(path: Path, project: Project) -> tuple[list[dict[str, Any]], str]:
    """Typed rows of a customers CSV and the key that identifies them."""
    with read_csv_file(path) as reader:
        header = reader.header
        key = "external_id" if "external_id" in header else "email" if "email" in header else None
        if key is None:
            raise InputError(
                f"{path}: the header needs an external_id or email column to identify "
                f"customers (it has {', '.join(header) or 'no columns'})"
            )
        rows = []
        for number, raw in reader.dicts():
            try:
                rows.append(typed_row(raw, project))
            except InputError as exc:
                raise InputError(f"{path}:{number}: {exc}") from None
            if rows[-1].get(key) is None:
                raise InputError(f"{path}:{number}: no {key}; every customer needs one")
    return rows, key


def load_customers_csv(conn: Connection, path: Path, project: Project, now: datetime) -> list[int]:
    """Upsert the customers of a CSV; return their system_ids in file order."""
    rows, key = read_customers(path, project)
    if not rows:
        return []
    return [sid for sid, _ in upsert_customers(conn, rows, key=key, project=project, now=now)]
