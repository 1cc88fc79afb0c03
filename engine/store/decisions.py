"""Batch decisions in SQL (see ``engine/sdk/decisions.py``): which way each journey of a batch
takes, in one SELECT with a CASE over the ways' conditions, and an update's fields, set in one
UPDATE of the batch's customers. The answers and writes are those of the journey-by-journey
path: conditions through the expression compiler (``engine.store.sqlexpr``), percent shares by
the hash of ``engine.model.shares``, templates rendered as Jinja renders them and converted as
``engine.model.fields.convert`` converts text, and only customers whose fields change get a new
``updated_at`` (as ``engine.store.customers.set_fields``)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Connection, text

from engine.errors import ExpressionError
from engine.model.expressions import Expression
from engine.model.fields import WRITABLE_BUILTINS, convert, to_json
from engine.model.shares import key_below, share_prefix
from engine.model.templates import FieldPiece, field_pieces
from engine.sdk.decisions import BatchDecision, SetFields, Share
from engine.store.raw import time_param
from engine.store.sqlexpr import Dialect, NotCompilable, compile_parts, fields_of

if TYPE_CHECKING:
    from engine.model.project import Project

DIALECTS = ("sqlite", "postgresql")
# what str.strip() removes: a rendered value of only these is empty (None), as convert() says
# (written out: finding them among all code points cost every command 0.2 s of CPU to import)
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# what Jinja renders for a missing value: nothing, or None through lower/upper
_MISSING = {None: "", "lower": "none", "upper": "NONE"}


class Chosen(NamedTuple):
    """Customers named in SQL rather than listed: ``sql`` selects their system ids as
    ``customer_id`` (perhaps some more than once), with its ``params``."""

    sql: str
    params: dict[str, Any]


class Refused(Exception):
    """A part of a decision that cannot run in the database, and why."""


@dataclass(frozen=True)
class _Constant:
    """A field's value that is the same for every customer, in its JSON form."""

    value: Any


@dataclass(frozen=True)
class _Rendered:
    """A text field's value rendered from literal text and customer fields."""

    pieces: tuple[str | FieldPiece, ...]


def refusal(decision: BatchDecision, project: Project) -> str | None:
    """Why ``decision`` cannot run in the database (on either dialect), or None when it can."""
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    try:
        if not decision.ways or decision.ways[-1].when is not None:
            raise Refused("its last way does not take every journey")
        for dialect in DIALECTS:
            _compiled(decision, dialect, project, moment, moment.date())
    except Refused as exc:
        return str(exc)
    return None


def _conditions(decision: BatchDecision) -> list[Expression]:
    found = []
    for way in decision.ways:
        when = way.when
        if isinstance(when, Expression):
            data = next((r for r in when.references if r.path[0] == "data"), None)
            if data is not None:
                path = ".".join(map(str, data.path))
                raise Refused(f"'{when}' reads {path}, the journey's entry data")
            found.append(when)
    return found


def _fields(decision: BatchDecision, project: Project) -> dict[str, _Constant | _Rendered]:
    """Each field an update sets, as a constant or a rendering the database can do."""
    values: dict[str, _Constant | _Rendered] = {}
    types = {**WRITABLE_BUILTINS, **project.settings.profile}
    for change in decision.changes:
        if not isinstance(change, SetFields):
            continue
        for name, template in change.values.items():
            if name in WRITABLE_BUILTINS:
                raise Refused(f"'{name}' is a built-in field")
            if not _NAME.match(name):
                raise Refused(f"the field name '{name}' cannot be written in SQL")
            kind = types[name]
            pieces = () if template is None else field_pieces(template)
            if pieces is None:
                raise Refused(
                    f"the value of '{name}' is a template the database cannot render (it "
                    "renders text, customer fields and their |lower or |upper)"
                )
            if all(isinstance(p, str) for p in pieces):
                literal = None if template is None else template.render({})
                try:
                    values[name] = _Constant(to_json(convert(literal, kind)))
                except ValueError as exc:
                    raise Refused(f"'{name}': {exc}") from None
            elif kind != "str":
                raise Refused(f"'{name}' is a {kind} field set from a template")
            else:
                values[name] = _Rendered(pieces)
    return values


def _piece_expression(piece: FieldPiece) -> Expression:
    field = f"customer.{piece.name}"
    return Expression(f"{piece.case}({field})" if piece.case else field)


@dataclass(frozen=True)
class _Compiled:
    conditions: tuple[str, ...]
    fields: dict[str, _Constant | tuple[str, ...]]  # a rendered field: its pieces' SQL
    params: dict[str, Any]


def _compiled(
    decision: BatchDecision, dialect: str, project: Project, now: datetime, today: date
) -> _Compiled:
    conditions = _conditions(decision)
    fields = _fields(decision, project)
    expressions = [
        _piece_expression(p)
        for value in fields.values()
        if isinstance(value, _Rendered)
        for p in value.pieces
        if isinstance(p, FieldPiece)
    ]
    profile, datamodel = fields_of(project)
    try:
        parts = compile_parts(
            dialect, profile, now, today, datamodel, conditions=conditions, values=expressions
        )
    except (NotCompilable, ExpressionError) as exc:
        raise Refused(str(exc)) from None
    params = dict(parts.params)
    compiled_values = iter(parts.values)
    out: dict[str, _Constant | tuple[str, ...]] = {}
    for name, value in fields.items():
        if isinstance(value, _Constant):
            out[name] = value
            continue
        sql = []
        for piece in value.pieces:
            if isinstance(piece, str):
                sql.append(_text(dialect, params, piece))
                continue
            found, kind = next(compiled_values)
            if kind != "text":
                raise Refused(f"'{{{{ customer.{piece.name} }}}}' is not text")
            sql.append(f"COALESCE({found}, {_text(dialect, params, _MISSING[piece.case])})")
        out[name] = tuple(sql)
    return _Compiled(parts.conditions, out, params)


def _bind(params: dict[str, Any], value: Any) -> str:
    name = f"d{len(params)}"
    params[name] = value
    return f":{name}"


def _text(dialect: str, params: dict[str, Any], value: str) -> str:
    return Dialect(dialect).param(_bind(params, value), "text")


def _journeys_among(dialect: str, column: str, ids: Sequence[int], params: dict[str, Any]) -> str:
    """``column`` is one of ``ids``, with one parameter however many there are."""
    if dialect == "postgresql":
        return f"{column} = ANY({_bind(params, list(ids))})"
    return f"{column} IN (SELECT value FROM json_each({_bind(params, json.dumps(list(ids)))}))"


def _share_test(
    dialect: str, share: Share, flow: str, object_id: str, params: dict[str, Any]
) -> str:
    below = key_below(share.edge)
    if below is None:
        return "1 = 1"
    if dialect == "postgresql":
        prefix = _bind(params, share_prefix(flow, object_id))
        digest = f"sha256({prefix} || convert_to(CAST(j.customer_id AS text), 'UTF8'))"
        return f"(substr(encode({digest}, 'hex'), 1, 16) < {_bind(params, below)} COLLATE \"C\")"
    key = f"sluis_share_key({_bind(params, flow)}, {_bind(params, object_id)}, j.customer_id)"
    return f"({key} < {_bind(params, below)})"


def way_index(
    conn: Connection,
    decision: BatchDecision,
    *,
    flow: str,
    object_id: str,
    project: Project,
    now: datetime,
    today: date,
) -> tuple[str, dict[str, Any]]:
    """The index of the first way each journey (``journeys j``, its customer ``c``) takes, as
    SQL, with its parameters (named ``d0``, ``d1``, ...)."""
    dialect = conn.dialect.name
    compiled = _compiled(decision, dialect, project, now, today)
    params, conditions = compiled.params, iter(compiled.conditions)
    cases = []
    for index, way in enumerate(decision.ways[:-1]):
        when = way.when
        if isinstance(when, Share):
            test = _share_test(dialect, when, flow, object_id, params)
        else:
            test = next(conditions) if when is not None else "1 = 1"
        cases.append(f"WHEN {test} THEN {index}")
    last = len(decision.ways) - 1
    return (f"CASE {' '.join(cases)} ELSE {last} END" if cases else str(last)), params


def choose_ways(
    conn: Connection,
    decision: BatchDecision,
    *,
    flow: str,
    object_id: str,
    journey_ids: Sequence[int],
    project: Project,
    now: datetime,
    today: date,
) -> dict[int, int]:
    """For each journey, the index of the first of the decision's ways it takes."""
    choice, params = way_index(
        conn, decision, flow=flow, object_id=object_id, project=project, now=now, today=today
    )
    among = _journeys_among(conn.dialect.name, "j.id", journey_ids, params)
    statement = (
        f"SELECT j.id, {choice} FROM journeys j LEFT JOIN customers c "
        f"ON c.system_id = j.customer_id WHERE {among}"
    )
    return {jid: way for jid, way in conn.execute(text(statement), params)}


def set_fields(
    conn: Connection,
    change: SetFields,
    customer_ids: Sequence[int] | Chosen,
    project: Project,
    now: datetime,
    today: date,
) -> None:
    """Set an update's fields on the customers, in one statement; customers whose fields
    already hold those values are left as they are (their ``updated_at`` too)."""
    dialect = conn.dialect.name
    decision = BatchDecision((), (change,))
    compiled = _compiled(decision, dialect, project, now, today)
    params = compiled.params
    postgres = dialect == "postgresql"
    sets, changed = [], []
    for name, value in compiled.fields.items():
        absent = f"NOT {Dialect(dialect).json_has('c.profile', name)}"
        if isinstance(value, _Constant):
            encoded = _bind(params, json.dumps(value.value))
            new = f"CAST({encoded} AS jsonb)" if postgres else f"json({encoded})"
            plain = new if postgres else f"json_extract({encoded}, '$')"
        else:
            rendered = " || ".join(value) or "''"
            trim = "btrim" if postgres else "trim"
            blank = f"{trim}({rendered}, {_text(dialect, params, WHITESPACE)}) = ''"
            new = plain = f"(CASE WHEN {blank} THEN NULL ELSE {rendered} END)"
            if postgres:
                new = plain = f"COALESCE(to_jsonb({new}), CAST('null' AS jsonb))"
        if postgres:
            sets.append(f"'{name}', {new}")
            changed.append(
                f"{absent} OR (CAST(c.profile AS jsonb) -> '{name}') IS DISTINCT FROM {plain}"
            )
        else:
            sets.append(f"'$.{name}', {new}")
            changed.append(f"{absent} OR json_extract(c.profile, '$.{name}') IS NOT {plain}")
    if not sets:
        return
    if postgres:
        profile = f"CAST(CAST(c.profile AS jsonb) || jsonb_build_object({', '.join(sets)}) AS json)"
    else:
        profile = f"json_set(c.profile, {', '.join(sets)})"
    at = _bind(params, time_param(conn, now))
    if isinstance(customer_ids, Chosen):
        among = f"c.system_id IN (SELECT customer_id FROM ({customer_ids.sql}) chosen)"
        params.update(customer_ids.params)
    else:
        ids = list(dict.fromkeys(customer_ids))
        among = _journeys_among(dialect, "c.system_id", ids, params)
    conn.execute(
        text(
            f"UPDATE customers AS c SET profile = {profile}, updated_at = {at} "
            f"WHERE {among} AND ({' OR '.join(f'({test})' for test in changed)})"
        ),
        params,
    )
