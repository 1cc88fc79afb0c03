"""Reading datamodel records from a CSV (replay's ``--records COLLECTION=CSV``): the columns are
the collection's fields, the ``customer`` column names the customer by external_id or email,
an empty cell is null."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from engine.errors import InputError
from engine.files.csvin import read_csv_file
from engine.model.project import Project, collection_of
from engine.store.customers import find_ids
from engine.store.records import typed_record, upsert_records


def parse_records_option(text: str) -> tuple[str, Path]:
    """``COLLECTION=CSV`` of ``--records``."""
    collection, sep, path = text.partition("=")
    if not sep or not collection.strip() or not path.strip():
        raise InputError(
            f"--records {text!r}: write COLLECTION=CSV, as in --records orders=orders.csv"
        )
    return collection.strip(), Path(path.strip())


def load_records_csv(
    conn: Connection, collection: str, path: Path, project: Project, now: datetime
) -> int:
    """Store the records of a CSV, each linked to its customer; return how many."""
    try:
        collection_of(project, collection)
    except InputError as exc:
        raise InputError(f"--records {collection}={path}: {exc}") from None
    with read_csv_file(path) as reader:
        if "customer" not in reader.header:
            raise InputError(
                f"{path}: the header needs a customer column (external_id or email of the "
                f"record's customer); it has {', '.join(reader.header) or 'no columns'}"
            )
        rows: list[tuple[int, Any, dict[str, Any]]] = []
        for number, raw in reader.dicts():
            customer = raw.pop("customer", None)
            if customer is None:
                raise InputError(f"{path}:{number}: no customer; every record needs one")
            try:
                rows.append((number, customer, typed_record(collection, raw, project)))
            except InputError as exc:
                raise InputError(f"{path}:{number}: {exc}") from None
    idents = [customer for _, customer, _ in rows]
    found = find_ids(conn, "external_id", idents)
    by_email = find_ids(conn, "email", [i for i in idents if i not in found])
    linked = []
    for number, customer, data in rows:
        system_id = found.get(customer) or by_email.get(str(customer).lower())
        if system_id is None:
            raise InputError(f"{path}:{number}: no customer '{customer}' in the customers file")
        linked.append((data, system_id))
    try:
        upsert_records(conn, collection, linked, project=project, now=now)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    return len(linked)
