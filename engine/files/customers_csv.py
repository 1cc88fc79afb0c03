"""Reading customers from a CSV (``--customers`` of replay and start): the header names the
fields, ``external_id`` and/or ``email`` identify customers, an empty cell is null."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from engine.errors import InputError
from engine.model.project import Project
from engine.store.customers import typed_row, upsert_customers


def read_customers(path: Path, project: Project) -> tuple[list[dict[str, Any]], str]:
    """Typed rows of a customers CSV and the key that identifies them."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            sample = handle.read(65536)
            handle.seek(0)
            try:
                dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
            except csv.Error:
                dialect = csv.excel
            reader = csv.DictReader(handle, dialect=dialect)
            header = reader.fieldnames or []
            key = (
                "external_id" if "external_id" in header else "email" if "email" in header else None
            )
            if key is None:
                raise InputError(
                    f"{path}: the header needs an external_id or email column to identify "
                    f"customers (it has {', '.join(header) or 'no columns'})"
                )
            rows = []
            for number, raw in enumerate(reader, start=2):
                if None in raw:
                    raise InputError(f"{path}:{number}: more cells than header columns")
                try:
                    rows.append(typed_row({k: v for k, v in raw.items() if k}, project))
                except InputError as exc:
                    raise InputError(f"{path}:{number}: {exc}") from None
                if rows[-1].get(key) is None:
                    raise InputError(f"{path}:{number}: no {key}; every customer needs one")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    return rows, key


def load_customers_csv(conn: Connection, path: Path, project: Project, now: datetime) -> list[int]:
    """Upsert the customers of a CSV; return their system_ids in file order."""
    rows, key = read_customers(path, project)
    if not rows:
        return []
    return [sid for sid, _ in upsert_customers(conn, rows, key=key, project=project, now=now)]
