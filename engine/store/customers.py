"""Customers in the store: typed loading, set-based upserts, field changes, groups.

Every path that writes customers (imports, webhooks, the REST API, ``update`` objects, replay
customers) goes through these functions, so typing and change detection are the same
everywhere. Functions take an open connection: the caller owns the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import repeat
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, and_, bindparam, delete, func, select, text, update

from engine.errors import InputError
from engine.model.fields import KEYS as KEYS  # re-exported, as the next two
from engine.model.fields import WRITABLE_BUILTINS as WRITABLE_BUILTINS
from engine.model.fields import convert, to_json
from engine.model.fields import field_types as field_types
from engine.model.sizes import CUSTOMER_LIMITS, check_lengths, column_faults
from engine.model.validation import did_you_mean
from engine.store.bulk import first_faults, insert_many, json_objects, json_texts
from engine.store.bulk import typed_columns as typed_columns_of
from engine.store.models import CUSTOMERS, GROUPS, MEMBERSHIPS
from engine.store.raw import (
    allocate_ids,
    among,
    encoder,
    fetch,
    insert_ignore,
    insert_rows,
    json_value,
    one_of,
    placeholders,
    staged,
    time_param,
    time_value,
    update_rows,
)
from engine.store.sqlexpr.dialects import typed_column

if TYPE_CHECKING:
    from engine.model.project import Project
    from engine.store.decisions import Chosen

C = CUSTOMERS.c
MEMBERS = MEMBERSHIPS

BOUNCED = ("none", "soft", "hard")


_TYPES: dict[int, tuple[Any, dict[str, str]]] = {}


def _types(project: Project) -> dict[str, str]:
    """``field_types`` with system_id, made once per project settings (typed_row runs per
    row of an import)."""
    settings = project.settings
    found = _TYPES.get(id(settings))
    if found is None or found[0] is not settings:
        found = (settings, {**field_types(project), "system_id": "int"})
        _TYPES[id(settings)] = found
    return found[1]


def _email(value: str) -> str:
    value = value.strip()
    if "@" not in value:
        raise InputError(f"field 'email': '{value}' is not an e-mail address")
    return value


def _bounced(value: str) -> str:
    if value not in BOUNCED:
        raise InputError(f"field 'bounced' must be one of {', '.join(BOUNCED)}")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"field 'timezone': '{value}' is not a time zone such as Europe/Amsterdam"
        ) from None
    return value


# built-in fields whose typed value must also pass a check (which may tidy it)
_CHECKS: dict[str, Callable[[str], str]] = {
    "email": _email,
    "bounced": _bounced,
    "timezone": _timezone,
}


def _unknown(name: str, types: Mapping[str, str]) -> InputError:
    hint = did_you_mean(name, types)
    return InputError(
        f"unknown customer field '{name}'{hint}"
        + ("" if hint else "; add it to profile in sluis.yaml")
    )


def typed_row(row: Mapping[str, Any], project: Project) -> dict[str, Any]:
    """Convert one row of field values to their Python types; ``InputError`` names the field,
    the value and the fix."""
    types = _types(project)
    result: dict[str, Any] = {}
    name = ""
    try:
        for name, value in row.items():
            result[name] = convert(value, types[name])
    except KeyError:
        raise _unknown(name, types) from None
    except ValueError as exc:
        raise InputError(f"field '{name}': {exc}") from None
    for name, check in _CHECKS.items():
        if result.get(name) is not None:
            result[name] = check(result[name])
    check_lengths(result, CUSTOMER_LIMITS)
    return result


def typed_columns(
    columns: Mapping[str, Sequence[str]], project: Project
) -> tuple[dict[str, list[Any]], dict[int, tuple[str, str]]]:
    """``typed_row`` for rows of CSV text given column by column: the typed columns, and for
    each row that fails, the first field (in column order) that fails and why, in the words
    ``typed_row`` uses for that field alone."""
    types = _types(project)
    for name in columns:
        if name not in types:
            raise _unknown(name, types)
    typed, faults = typed_columns_of(columns, types)
    for name, check in _CHECKS.items():
        values = typed.get(name)
        if values is None:
            continue
        failed = faults[name]
        if not failed and None not in values:
            try:
                typed[name] = list(map(check, values))
                continue
            except InputError:
                pass  # the slow way below says which rows
        for index, value in enumerate(values):
            if value is not None and index not in failed:
                try:
                    values[index] = check(value)
                except InputError as exc:
                    failed[index] = str(exc)
    column_faults(typed, faults, CUSTOMER_LIMITS)
    return typed, first_faults(faults, columns)


_COLUMNS = (
    "system_id, external_id, email, timezone, unsubscribed, bounced, soft_bounces, profile, "
    "created_at, updated_at"
)


def _to_python(row: tuple[Any, ...], profile_types: Mapping[str, str]) -> dict[str, Any]:
    """A customer row (the columns of ``_COLUMNS``) as the typed mapping objects see."""
    sid, external_id, email, zone, unsubscribed, bounced, soft, profile, created, updated = row
    stored = json_value(profile) or {}
    customer: dict[str, Any] = {
        "system_id": sid,
        "external_id": external_id,
        "email": email,
        "timezone": zone,
        "unsubscribed": bool(unsubscribed),
        "bounced": bounced,
        "soft_bounces": soft,
        "groups": [],
        "created_at": time_value(created),
        "updated_at": time_value(updated),
    }
    for name, kind in profile_types.items():
        customer[name] = _profile_value(stored.get(name), kind)
    return customer


def _profile_value(value: Any, kind: str) -> Any:
    """A profile field's value as JSON holds it, typed as objects see it."""
    if value is not None and kind in ("date", "datetime", "decimal"):
        return convert(value, kind)
    return value


# built-in fields as _to_python types them (the others are as read)
_BUILTIN_READS: dict[str, Callable[[Any], Any]] = {
    "unsubscribed": bool,
    "created_at": time_value,
    "updated_at": time_value,
}


def field_reads(
    dialect: str, fields: Sequence[str], project: Project, typed: Collection[str]
) -> list[tuple[str, Callable[[Any], Any] | None]]:
    """For customer ``fields`` (not ``groups``) of ``customers c``: the SQL that reads each and
    what makes its value the one ``load_customers`` gives (None: as read). A profile field of
    text, numbers or true/false comes from its typed column when ``typed`` has it, else from
    the JSON (on SQLite, other kinds as their JSON text: json_extract would round numbers its
    own way)."""
    profile = project.settings.profile
    postgres = dialect == "postgresql"
    reads: list[tuple[str, Callable[[Any], Any] | None]] = []
    for name in fields:
        kind = profile.get(name)
        if kind is None:
            reads.append((f"c.{name}", _BUILTIN_READS.get(name)))
        elif kind in ("str", "int", "bool") and name in typed:
            column = f"c.{typed_column(name, kind)}"
            if postgres and kind == "int":  # numeric there; whole numbers fit in 64 bits
                column = f"CAST({column} AS bigint)"
            reads.append((column, _bool if kind == "bool" and not postgres else None))
        elif postgres:  # psycopg decodes json as json.loads would
            then = None if kind in ("str", "int", "float", "bool") else _typed(kind)
            reads.append((f"(c.profile -> '{name}')", then))
        elif kind in ("str", "int"):  # json_extract gives what JSON holds
            reads.append((f"json_extract(c.profile, '$.{name}')", None))
        elif kind == "bool":
            reads.append((f"json_extract(c.profile, '$.{name}')", _bool))
        else:
            reads.append((f"(c.profile -> '$.{name}')", _decoded(kind)))
    return reads


def _typed(kind: str) -> Callable[[Any], Any]:
    return lambda value: _profile_value(value, kind)


def _decoded(kind: str) -> Callable[[Any], Any]:
    return lambda text: None if text is None else _profile_value(json.loads(text), kind)


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def load_customers(
    conn: Connection, ids: Iterable[int], project: Project, *, groups: bool = True
) -> dict[int, dict[str, Any]]:
    """Customers by system_id, typed, with their group names."""
    wanted = list(dict.fromkeys(ids))
    profile = project.settings.profile
    found: dict[int, dict[str, Any]] = {}
    for condition, params in among(conn, "system_id", wanted):
        for row in fetch(conn, f"SELECT {_COLUMNS} FROM customers WHERE {condition}", params):
            found[row[0]] = _to_python(row, profile)
    if groups and found:
        for condition, params in among(conn, "m.customer_id", list(found)):
            statement = (
                "SELECT m.customer_id, g.name FROM memberships m JOIN groups g ON g.id = "
                f"m.group_id WHERE {condition} ORDER BY g.name"
            )
            for customer_id, name in fetch(conn, statement, params):
                found[customer_id]["groups"].append(name)
    return found


def stream_customers(
    conn: Connection,
    condition: str,
    params: Mapping[str, Any],
    project: Project,
    *,
    chunk: int = 1000,
) -> Iterator[list[dict[str, Any]]]:
    """Typed customers (``groups`` left empty) of ``customers c`` for whom the SQL
    ``condition`` holds, in system_id order, in chunks: one streamed statement, no second
    look-up by id."""
    columns = ", ".join(f"c.{name.strip()}" for name in _COLUMNS.split(","))
    statement = text(f"SELECT {columns} FROM customers c WHERE {condition} ORDER BY c.system_id")
    profile = project.settings.profile
    result = conn.execute(statement.execution_options(stream_results=True), dict(params))
    try:
        while rows := result.fetchmany(chunk):
            yield [_to_python(tuple(row), profile) for row in rows]
    finally:
        result.close()


def iter_customers(
    conn: Connection,
    project: Project,
    *,
    group: str | None = None,
    chunk: int = 1000,
) -> Iterator[list[dict[str, Any]]]:
    """Every customer (of ``group`` when given) in system_id order, in chunks, typed and with
    group names. Reads by keyset so memory stays flat."""
    last = 0
    group_id = None
    if group is not None:
        group_id = conn.execute(select(GROUPS.c.id).where(GROUPS.c.name == group)).scalar()
        if group_id is None:
            return
    while True:
        query = select(C.system_id).where(C.system_id > last).order_by(C.system_id).limit(chunk)
        if group_id is not None:
            query = query.where(
                C.system_id.in_(select(MEMBERS.c.customer_id).where(MEMBERS.c.group_id == group_id))
            )
        ids = list(conn.execute(query).scalars())
        if not ids:
            return
        loaded = load_customers(conn, ids, project)
        yield [loaded[i] for i in ids if i in loaded]
        last = ids[-1]


def find_ids(conn: Connection, key: str, values: Iterable[Any]) -> dict[Any, int]:
    """system_ids of customers whose ``key`` field equals one of ``values``."""
    if key not in KEYS:
        raise InputError(f"customers are found by {', '.join(KEYS)}, not '{key}'")
    column = getattr(C, key)
    wanted = [v for v in dict.fromkeys(values) if v is not None]
    found: dict[Any, int] = {}
    if key == "email":
        column = func.lower(column, type_=column.type)
    values_of = [str(v).lower() for v in wanted] if key == "email" else wanted
    for condition, _ in among(conn, column, values_of):
        query = select(column, C.system_id).where(condition)
        for value, system_id in conn.execute(query):
            found.setdefault(value, system_id)
    if key == "email":
        return {v: found[str(v).lower()] for v in wanted if str(v).lower() in found}
    return found


def _split(
    row: Mapping[str, Any], profile: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    builtins = {k: v for k, v in row.items() if k in WRITABLE_BUILTINS}
    fields = {k: to_json(v) for k, v in row.items() if k in profile}
    return builtins, fields


def upsert_customers(
    conn: Connection,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: str,
    project: Project,
    now: datetime,
) -> list[tuple[int, str]]:
    """Insert or update typed rows matched on ``key``; return (system_id, status) per row in
    order, status being new, changed or unchanged. Fields a row does not name stay as they
    are. Rows with the same key within one call apply in order."""
    if key not in KEYS:
        raise InputError(f"key must be one of {', '.join(KEYS)}, not '{key}'")
    profile = project.settings.profile
    for number, row in enumerate(rows, 1):
        if row.get(key) is None:
            raise InputError(f"row {number} has no value for the key field '{key}'")

    def norm(value: Any) -> Any:
        return str(value).lower() if key == "email" else value

    existing, current = _current_by_key(conn, key, [r[key] for r in rows], norm)

    if key == "system_id":
        missing = [r[key] for r in rows if r[key] not in existing]
        if missing:
            raise InputError(
                f"no customer with system_id {missing[0]}; system_ids are assigned "
                "by sluis, so new customers need external_id or email as key"
            )
    plan: list[tuple[bool, Any]] = []  # per row: (existing customer?, system_id or new key)
    pending_new: dict[Any, dict[str, Any]] = {}
    changed: dict[int, dict[str, Any]] = {}
    for row in rows:
        builtins, fields = _split(row, profile)
        ident = norm(row[key])
        if ident in existing:
            system_id = existing[ident]
            before = current[system_id]
            after = {**before, **builtins, "profile": {**before["profile"], **fields}}
            if after != before:
                current[system_id] = changed[system_id] = after
            plan.append((True, system_id))
        elif ident in pending_new:
            values = pending_new[ident]
            values.update(builtins)
            values["profile"].update(fields)
            plan.append((False, ident))
        else:
            pending_new[ident] = {**builtins, "profile": fields}
            plan.append((False, ident))
    new_ids: dict[Any, int] = {}
    if pending_new:
        returned = allocate_ids(conn, "customers", "system_id", len(pending_new))
        insert_many(
            conn,
            CUSTOMERS,
            [
                {
                    "system_id": sid,
                    "external_id": values.get("external_id"),
                    "email": values.get("email"),
                    "timezone": values.get("timezone"),
                    "unsubscribed": bool(values.get("unsubscribed") or False),
                    "bounced": values.get("bounced") or "none",
                    "profile": values["profile"],
                }
                for sid, values in zip(returned, pending_new.values(), strict=True)
            ],
            {"soft_bounces": 0, "created_at": now, "updated_at": now},
        )
        new_ids = dict(zip(pending_new, returned, strict=True))
    _write_customers(conn, changed, now)
    return [
        (ref, "changed" if ref in changed else "unchanged") if known else (new_ids[ref], "new")
        for known, ref in plan
    ]


def _write_customers(
    conn: Connection, changed: Mapping[int, Mapping[str, Any]], now: datetime
) -> None:
    if not changed:
        return
    conn.execute(
        update(CUSTOMERS)
        .where(C.system_id == bindparam("b_id"))
        .values(
            external_id=bindparam("external_id"),
            email=bindparam("email"),
            timezone=bindparam("timezone"),
            unsubscribed=bindparam("unsubscribed"),
            bounced=bindparam("bounced"),
            profile=bindparam("profile"),
            updated_at=bindparam("updated_at"),
        ),
        [{"b_id": sid, **vals, "updated_at": now} for sid, vals in changed.items()],
    )


_MATCHED = "system_id, external_id, email, timezone, unsubscribed, bounced, CAST(profile AS TEXT)"


def _current_by_key(
    conn: Connection, key: str, values: Sequence[Any], norm: Callable[[Any], Any]
) -> tuple[dict[Any, int], dict[int, dict[str, Any]]]:
    """The customers whose ``key`` is one of ``values``, in one statement: system_id by
    normalised key (the lowest system_id when an email is shared), and their current values."""
    wanted = list(dict.fromkeys(map(norm, values)))
    where, param = one_of(conn, "lower(email)" if key == "email" else key, wanted)
    statement = f"SELECT {_MATCHED} FROM customers WHERE {where} ORDER BY system_id"
    at = KEYS.index(key)
    existing: dict[Any, int] = {}
    found: dict[int, dict[str, Any]] = {}
    for row in fetch(conn, statement, [param]) if wanted else ():
        system_id, external_id, email, zone, unsubscribed, bounced, profile = row
        ident = norm((external_id, email, system_id)[at])
        if ident in existing:
            continue
        existing[ident] = system_id
        found[system_id] = {
            "external_id": external_id,
            "email": email,
            "timezone": zone,
            "unsubscribed": bool(unsubscribed),
            "bounced": bounced,
            "profile": json_value(profile),
        }
    return existing, found


def set_fields(
    conn: Connection, changes: Mapping[int, Mapping[str, Any]], project: Project, now: datetime
) -> int:
    """Set typed fields on customers by system_id (``update`` objects, the REST API, ``save``
    of http-request). Returns how many customers changed; only those get a new
    ``updated_at``. Changes of profile fields alone are merged in by the database
    (``merge_profiles``); the others read the customers and write them back."""
    profile = project.settings.profile
    wanted = {sid: _split(values, profile) for sid, values in changes.items()}
    at = time_param(conn, now)
    merged = merge_profiles(conn, {sid: f for sid, (named, f) in wanted.items() if not named}, at)
    wanted = {sid: split for sid, split in wanted.items() if split[0]}
    builtins = sorted({name for named, _ in wanted.values() for name in named})
    columns = ", ".join(["system_id", "profile", *builtins])
    encode = encoder(conn, C.profile)
    updates = []
    for condition, params in among(conn, "system_id", list(wanted)):
        query = f"SELECT {columns} FROM customers WHERE {condition}"
        for sid, stored, *current in fetch(conn, query, params):
            named, fields = wanted[sid]
            before = json_value(stored) or {}
            after = {**before, **fields}
            values = [named.get(name, value) for name, value in zip(builtins, current, strict=True)]
            if after != before or values != current:
                updates.append((encode(after), at, *values, sid))
    update_rows(conn, CUSTOMERS, ("profile", "updated_at", *builtins), "system_id", updates)
    return merged + len(updates)


def merge_profiles(conn: Connection, fields: Mapping[int, Mapping[str, Any]], at: Any) -> int:
    """Merge profile fields (JSON form, by system_id) into the stored profiles in the database
    (SQLite ``json_set``, PostgreSQL ``jsonb ||``), one statement per set of field names, so
    no profile is read and written back (``save`` of every push call, a thousand customers a
    batch). Customers whose fields hold those values already are left as they are, their
    ``updated_at`` (``at``, as the driver takes it) too; returns how many changed."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for sid, values in fields.items():
        if values:
            groups.setdefault(tuple(values), []).append(sid)
    changed = 0
    for names, ids in groups.items():
        # profile field names are lowercase letters, digits and _ (sluis.yaml is checked)
        texts = {name: json_texts([fields[sid][name] for sid in ids]) for name in names}
        if conn.dialect.name == "postgresql":
            rows = list(zip(ids, json_objects(texts, len(ids)), strict=True))
            stage = staged(conn, CUSTOMERS, ("system_id", "profile"), rows)
            merged = "(CAST(c.profile AS jsonb) || CAST(s.profile AS jsonb))"
            statement = (
                f"UPDATE customers AS c SET profile = CAST({merged} AS json), updated_at = ? "
                f"FROM {stage} AS s WHERE c.system_id = s.system_id "
                f"AND {merged} IS DISTINCT FROM CAST(c.profile AS jsonb)"
            )
            result = conn.exec_driver_sql(placeholders(conn, statement), (at,))
        else:
            sets = ", ".join(f"'$.{name}', json(?{i})" for i, name in enumerate(names, 1))
            tests = " OR ".join(
                f"json_type(profile, '$.{name}') IS NULL "
                f"OR json_extract(profile, '$.{name}') IS NOT json_extract(?{i}, '$')"
                for i, name in enumerate(names, 1)
            )
            statement = (
                f"UPDATE customers SET profile = json_set(profile, {sets}), "
                f"updated_at = ?{len(names) + 1} WHERE system_id = ?{len(names) + 2} "
                f"AND ({tests})"
            )
            params = list(zip(*texts.values(), repeat(at), ids, strict=False))
            result = conn.exec_driver_sql(statement, params)
        changed += max(0, result.rowcount)
    return changed


def group_ids(conn: Connection, names: Iterable[str], now: datetime) -> dict[str, int]:
    """ids of the named groups, creating the missing ones."""
    wanted = list(dict.fromkeys(names))
    found = {
        name: gid
        for gid, name in conn.execute(
            select(GROUPS.c.id, GROUPS.c.name).where(GROUPS.c.name.in_(wanted))
        )
    }
    missing = [name for name in wanted if name not in found]
    if missing:
        # another writer may create the same group at the same moment: let either win
        insert_ignore(conn, GROUPS, [{"name": n, "created_at": now} for n in missing])
        query = select(GROUPS.c.id, GROUPS.c.name).where(GROUPS.c.name.in_(missing))
        found.update({name: gid for gid, name in conn.execute(query)})
    return found


def add_to_groups(
    conn: Connection, customer_ids: Sequence[int], names: Iterable[str], now: datetime
) -> int:
    """Make the customers members of the groups (creating groups as needed); returns how many
    memberships were added (members already there, perhaps added by a concurrent writer a
    moment ago, are left as they are)."""
    at = time_param(conn, now)
    wanted = list(dict.fromkeys(customer_ids))
    return sum(
        insert_rows(
            conn,
            MEMBERS,
            ("group_id", "customer_id", "added_at"),
            [(gid, cid, at) for cid in wanted],
            skip_conflicts=True,
        )
        for gid in group_ids(conn, names, now).values()
    )


def add_chosen_to_groups(
    conn: Connection, chosen: Chosen, names: Iterable[str], now: datetime
) -> None:
    """``add_to_groups`` for customers named in SQL (``chosen`` also selects an ``at`` to
    order them by: memberships are made in the order each customer first comes)."""
    params = {**chosen.params, "member_at": time_param(conn, now)}
    for gid in group_ids(conn, names, now).values():
        conn.execute(
            text(
                "INSERT INTO memberships (group_id, customer_id, added_at) "
                f"SELECT :member_group, customer_id, :member_at FROM ({chosen.sql}) chosen "
                "GROUP BY customer_id ORDER BY min(at) ON CONFLICT DO NOTHING"
            ),
            {**params, "member_group": gid},
        )


def remove_from_groups(conn: Connection, customer_ids: Sequence[int], names: Iterable[str]) -> int:
    removed = 0
    gids = list(conn.execute(select(GROUPS.c.id).where(GROUPS.c.name.in_(list(names)))).scalars())
    if not gids:
        return 0
    for condition, _ in among(conn, MEMBERS.c.customer_id, list(dict.fromkeys(customer_ids))):
        result = conn.execute(delete(MEMBERS).where(and_(MEMBERS.c.group_id.in_(gids), condition)))
        removed += result.rowcount
    return removed
