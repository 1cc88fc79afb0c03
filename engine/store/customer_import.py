"""Customers from an import: ``upsert_customers`` for thousands of rows at a time, worked a
column at a time.

Every row of an import's chunk names the same fields and no key comes twice, so
``import_customers`` finds the customers of all keys in one statement, with each profile field
of the file read out of the stored JSON by the database; it compares stored and new values a
column at a time to tell new, changed and unchanged rows; then it inserts the new customers
and, for the changed ones, updates only the columns that changed, with ``executemany``
straight to the driver. A new customer's profile is JSON text built a column at a time (as
``json.dumps`` writes it); a changed profile is merged by the database (``json_set`` on SQLite,
``||`` on PostgreSQL), so the fields a file does not name stay as they are. A field the
customer lacks and an empty cell are both null, so they are the same value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import repeat
from operator import ne
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from engine.errors import InputError
from engine.store.bulk import json_column, json_objects, json_texts
from engine.store.customers import WRITABLE_BUILTINS
from engine.store.raw import allocate_ids, execute_many, one_of, placeholders, time_param

if TYPE_CHECKING:
    from engine.model.project import Project

_BUILTINS = tuple(WRITABLE_BUILTINS)
_NEVER_EMPTY = ("unsubscribed", "bounced")  # NOT NULL columns
_PLACES = {name: at for at, name in enumerate(("system_id", *_BUILTINS))}  # in a stored row
_INSERT = (
    "INSERT INTO customers (system_id, external_id, email, timezone, unsubscribed, bounced, "
    "soft_bounces, profile, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)"
)


def import_customers(
    conn: Connection,
    columns: Mapping[str, Sequence[Any]],
    *,
    key: str,
    project: Project,
    now: datetime,
) -> list[tuple[int, str]]:
    """Insert or update the typed rows of ``columns`` (of equal length, a key in every row and
    no key twice) matched on ``key``; return (system_id, status) per row, status being new,
    changed or unchanged. Fields the columns do not name stay as they are."""
    keys = columns[key]
    count = len(keys)
    profile = project.settings.profile
    forms = {n: json_column(v, profile[n]) for n, v in columns.items() if n in profile}
    texts = {name: json_texts(values) for name, values in forms.items()}
    stamp = time_param(conn, now)
    wanted = [str(v).lower() for v in keys] if key == "email" else keys
    found = _stored(conn, key, wanted, list(forms))
    if key == "external_id" and "email" in columns:
        found.update(_known_by_email(conn, wanted, columns["email"], found, list(forms)))
    status: list[Any] = [None] * count
    matched = [i for i, ident in enumerate(wanted) if ident in found] if found else []
    if matched:
        current = [found[wanted[i]] for i in matched]
        columns = _keep_stored(columns, matched, current)
        for index, row in zip(matched, current, strict=True):
            status[index] = (row[0], "unchanged")
        builtins = [name for name in _BUILTINS if name in columns]
        compared = {**{name: columns[name] for name in builtins}, **forms}
        places = [_PLACES[name] for name in builtins]
        places += range(len(_PLACES), len(_PLACES) + len(forms))
        for signature, rows in _changes(current, matched, compared, places, count).items():
            names = [name for name, did in zip(compared, signature, strict=True) if did]
            picks = [matched[j] for j in rows]
            ids = [current[j][0] for j in rows]
            _update(conn, columns, texts, names, picks, ids, stamp)
            for index, system_id in zip(picks, ids, strict=True):
                status[index] = (system_id, "changed")
    new = [i for i in range(count) if status[i] is None] if matched else list(range(count))
    if new:
        if key == "system_id":
            raise InputError(
                f"no customer with system_id {keys[new[0]]}; system_ids are assigned by "
                "sluis, so new customers need external_id or email as key"
            )
        ids = allocate_ids(conn, "customers", "system_id", len(new))
        _insert(conn, columns, new, ids, texts, stamp)
        for index, system_id in zip(new, ids, strict=True):
            status[index] = (system_id, "new")
    return status


def _keep_stored(
    columns: Mapping[str, Sequence[Any]],
    matched: Sequence[int],
    current: Sequence[tuple[Any, ...]],
) -> Mapping[str, Sequence[Any]]:
    """An empty cell of a built-in field that is never empty (``unsubscribed``, ``bounced``)
    keeps what is stored: a file that leaves it blank neither re-subscribes anyone nor breaks
    the import. (A new customer gets false and none.)"""
    kept = dict(columns)
    for name in _NEVER_EMPTY:
        values = columns.get(name)
        if values is None or None not in values:
            continue
        filled, at = list(values), _PLACES[name]
        for index, row in zip(matched, current, strict=True):
            if filled[index] is None:
                filled[index] = row[at]
        kept[name] = filled
    return kept


def _known_by_email(
    conn: Connection,
    wanted: Sequence[Any],
    emails: Sequence[Any],
    found: Mapping[Any, tuple[Any, ...]],
    fields: Sequence[str],
) -> dict[Any, tuple[Any, ...]]:
    """For rows whose external_id finds no customer, by that external_id: the customer known
    by the row's email alone (no external_id yet: a guest of a shop who registered later),
    which takes the external_id rather than a second customer being made. The first row of
    an email takes it."""
    rows: dict[str, Any] = {}
    for ident, email in zip(wanted, emails, strict=True):
        if ident not in found and email is not None:
            rows.setdefault(str(email).lower(), ident)
    stored = _stored(conn, "email", list(rows), fields, without_external_id=True)
    return {rows[email]: row for email, row in stored.items()}


def _stored(
    conn: Connection,
    key: str,
    wanted: Sequence[Any],
    fields: Sequence[str],
    *,
    without_external_id: bool = False,
) -> dict[Any, tuple[Any, ...]]:
    """By key (lower-cased, for email), the customer it finds (the lowest system_id when an
    email is shared; only those without an external_id when ``without_external_id``):
    system_id, the built-in fields, then the values of ``fields`` read out of the profile
    (None for a field it lacks)."""
    if not wanted:
        return {}
    postgres = conn.dialect.name == "postgresql"
    # profile field names are lowercase letters, digits and _ (sluis.yaml is checked)
    read = [
        f"profile -> '{name}'" if postgres else f"json_extract(profile, '$.{name}')"
        for name in fields
    ]
    where, param = one_of(conn, "lower(email)" if key == "email" else key, wanted)
    if without_external_id:
        where += " AND external_id IS NULL"
    # the lowest system_id first: it wins a shared email (other keys are unique)
    order = " ORDER BY system_id" if key == "email" else ""
    statement = f"SELECT {', '.join(['system_id', *_BUILTINS, *read])} FROM customers WHERE {where}"
    at = _PLACES[key]
    found: dict[Any, tuple[Any, ...]] = {}
    for row in conn.exec_driver_sql(placeholders(conn, statement + order), (param,)):
        found.setdefault(str(row[at]).lower() if key == "email" else row[at], row)
    return found


def _changes(
    current: Sequence[tuple[Any, ...]],
    matched: Sequence[int],
    new: Mapping[str, Sequence[Any]],
    places: Sequence[int],
    count: int,
) -> dict[tuple[bool, ...], list[int]]:
    """The changed rows among ``current`` (the stored rows of the rows ``matched``), grouped
    by which fields of ``new`` changed (a flag per field). ``places``: where each field of
    ``new`` is in a stored row. Values are compared a column at a time."""
    stored = list(zip(*current, strict=True))
    every = len(matched) == count
    changed = [
        list(map(ne, stored[at], values if every else [values[i] for i in matched]))
        for at, values in zip(places, new.values(), strict=True)
    ]
    groups: dict[tuple[bool, ...], list[int]] = {}
    for row, signature in enumerate(zip(*changed, strict=True)):
        if True in signature:
            groups.setdefault(signature, []).append(row)
    return groups


def _update(
    conn: Connection,
    columns: Mapping[str, Sequence[Any]],
    texts: Mapping[str, Sequence[str]],
    names: Sequence[str],
    rows: Sequence[int],
    ids: Sequence[int],
    stamp: Any,
) -> None:
    """Set fields ``names`` of the customers ``ids`` to their values in ``rows`` of
    ``columns``: the built-in ones as columns, the profile ones (those in ``texts``, their
    JSON texts) merged into the stored profile by the database."""
    sets = [f"{name} = ?" for name in names if name not in texts]
    params = [[columns[name][i] for i in rows] for name in names if name not in texts]
    fields = {name: [texts[name][i] for i in rows] for name in names if name in texts}
    if fields:
        if conn.dialect.name == "postgresql":
            sets.append("profile = (profile::jsonb || CAST(? AS jsonb))::json")
            params.append(json_objects(fields, len(rows)))
        else:
            # profile field names are lowercase letters, digits and _ (sluis.yaml is checked)
            paths = ", ".join(f"'$.{name}', json(?)" for name in fields)
            sets.append(f"profile = json_set(profile, {paths})")
            params += fields.values()
    statement = f"UPDATE customers SET {', '.join(sets)}, updated_at = ? WHERE system_id = ?"
    execute_many(conn, statement, list(zip(*params, repeat(stamp), ids, strict=False)))


def _insert(
    conn: Connection,
    columns: Mapping[str, Sequence[Any]],
    rows: Sequence[int],
    ids: Sequence[int],
    texts: Mapping[str, Sequence[str]],
    stamp: Any,
) -> None:
    """Insert the new customers of a chunk: the ``rows`` of ``columns``, with ``ids``."""
    every = len(rows) == len(columns[next(iter(columns))])

    def of(values: Sequence[Any] | None) -> Sequence[Any]:
        if values is None:
            return [None] * len(rows)
        return values if every else [values[i] for i in rows]

    profiles = json_objects({name: of(values) for name, values in texts.items()}, len(rows))
    execute_many(
        conn,
        _INSERT,
        list(
            zip(
                ids,
                of(columns.get("external_id")),
                of(columns.get("email")),
                of(columns.get("timezone")),
                map(bool, of(columns.get("unsubscribed"))),
                [bounced or "none" for bounced in of(columns.get("bounced"))],
                profiles,
                repeat(stamp),
                repeat(stamp),
            )
        ),
    )
