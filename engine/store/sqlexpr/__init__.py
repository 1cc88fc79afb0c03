"""Expressions compiled to SQL (DESIGN.md section 7, "Where expressions run"): selections,
``start --where``, ``export --where``, the export object and the API's customer search choose
customers in the database, SQLite (JSON1) or PostgreSQL, with the answers the Python evaluator
gives on the same data.

``compile_where`` gives a condition over the customers table (alias ``c``) and its parameters;
``check`` is what validation calls: it raises ``NotCompilable`` naming the construct that cannot
run in the database. This package is plain text work (no SQLAlchemy), so validation stays fast.

Known differences, kept small on purpose: on SQLite, date-times compare to the millisecond and
clock functions (``days_since`` of a date-time) count whole seconds; arithmetic on fractional
numbers uses floating point on SQLite (exact decimals on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from engine.store.sqlexpr.compiler import Compiler, NotCompilable
from engine.store.sqlexpr.dialects import Dialect

if TYPE_CHECKING:
    from engine.model.expressions import Expression
    from engine.model.project import Project

__all__ = [
    "Dialect",
    "NotCompilable",
    "Parts",
    "Where",
    "check",
    "compile_parts",
    "compile_where",
    "fields_of",
]


@dataclass(frozen=True)
class Where:
    """A condition on ``customers c`` and the values it binds."""

    sql: str
    params: dict[str, Any]


def compile_where(
    expression: Expression,
    dialect: str,
    profile: Mapping[str, str],
    now: datetime,
    today: date,
    datamodel: Mapping[str, Mapping[str, str]] | None = None,
    *,
    typed: Collection[str] = (),
) -> Where:
    """``expression`` as a condition over ``customers c`` in ``dialect`` ("sqlite" or
    "postgresql"); ``profile`` is the project's profile field types, ``datamodel`` each
    collection's field types, ``typed`` the profile fields read from their typed columns
    (``engine.store.profile_columns.typed_fields``)."""
    compiler = Compiler(Dialect(dialect), profile, now, today, datamodel, typed)
    predicate = compiler.predicate(expression.tree)
    return Where(predicate.text, compiler.params)


@dataclass(frozen=True)
class Parts:
    """Conditions and values on ``customers c`` compiled together, so their parameters do not
    clash: each condition's SQL, each value's SQL with its kind (``text``, ``num``, ...)."""

    conditions: tuple[str, ...]
    values: tuple[tuple[str, str], ...]
    params: dict[str, Any]


def compile_parts(
    dialect: str,
    profile: Mapping[str, str],
    now: datetime,
    today: date,
    datamodel: Mapping[str, Mapping[str, str]] | None = None,
    *,
    conditions: Sequence[Expression] = (),
    values: Sequence[Expression] = (),
) -> Parts:
    """Several expressions over the same customers in one statement (a batch decision's
    conditions, an update's values); as ``compile_where`` for each."""
    compiler = Compiler(Dialect(dialect), profile, now, today, datamodel)
    tests = tuple(compiler.predicate(e.tree).text for e in conditions)
    found = tuple((v.text, v.kind) for v in (compiler.value(e.tree) for e in values))
    return Parts(tests, found, compiler.params)


def check(
    expression: Expression,
    profile: Mapping[str, str],
    datamodel: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Raise ``NotCompilable`` when ``expression`` cannot run in the database."""
    now = datetime(2000, 1, 1, tzinfo=UTC)
    for dialect in ("sqlite", "postgresql"):
        compile_where(expression, dialect, profile, now, now.date(), datamodel)


def fields_of(project: Project) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The profile's and each collection's field types, as ``compile_where`` takes them."""
    settings = project.settings
    datamodel = {
        name: {field: str(kind) for field, kind in c.fields.items()}
        for name, c in settings.datamodel.items()
    }
    return dict(settings.profile), datamodel
