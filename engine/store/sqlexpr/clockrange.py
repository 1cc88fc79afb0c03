"""``days_since(X) <= 30`` as a range on ``X`` (``X > now - 31 days``), so the database can
read it from an index (records by created_at, an indexed profile field) instead of computing
the function for every row. The same answers: whole days or hours rounded down, as Python."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from engine.model.expressions import tree
from engine.store.sqlexpr.compiler import Sql

if TYPE_CHECKING:
    from engine.store.sqlexpr.compiler import Compiler

_STEPS = {
    "days_since": timedelta(days=1),
    "days_until": timedelta(days=1),
    "hours_since": timedelta(hours=1),
}
_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "=="}
_LIMIT = 10**6  # beyond this many days the bounds leave the calendar: compute instead


def clock_range(c: Compiler, node: tree.Compare) -> Sql | None:
    """The range form of ``CLOCK(X) OP N`` (either order), or None when it does not apply."""
    op, call, number = node.op, node.left, node.right
    if isinstance(call, tree.Const):
        op, call, number = _MIRROR.get(op, ""), node.right, node.left
    if not (isinstance(call, tree.Call) and call.name in _STEPS and op in _MIRROR):
        return None
    if not isinstance(number, tree.Const) or type(number.value) is not int:
        return None
    n = number.value
    if abs(n) > _LIMIT or c.kind_of(call.argument) != "datetime":
        return None
    step = _STEPS[call.name]
    try:
        limits = {k: c.now + k * step for k in (-(n + 1), -n, n, n + 1)}
    except OverflowError:
        return None
    moment = c.value(call.argument)
    if call.name == "days_until":  # floor((X - now) / step) OP n
        bounds = {"<=": ("<", n + 1), "<": ("<", n), ">=": (">=", n), ">": (">=", n + 1)}
    else:  # floor((now - X) / step) OP n, so X moves the other way
        bounds = {"<=": (">", -(n + 1)), "<": (">", -n), ">=": ("<=", -n), ">": ("<=", -(n + 1))}
    tests = [bounds[">="], bounds["<="]] if op == "==" else [bounds[op]]
    sides = [_side(c, moment, word, limits[k]) for word, k in tests]
    return Sql(f"({' AND '.join(sides)})", "bool", total=False)


def _side(c: Compiler, moment: Sql, word: str, limit: datetime) -> str:
    """``moment WORD limit``; a column is compared as stored, so its index serves."""
    dialect = c.dialect
    if moment.iso:
        bound = c.bind(limit, "datetime").text
        return f"{dialect.instant(moment.text, True)} {word} {dialect.instant(bound, True)}"
    if dialect.postgres:
        return f"{moment.text} {word} {dialect.instant(c.bind(limit, 'datetime').text, True)}"
    # SQLite keeps UTC date-times as ISO text with microseconds (UTCDateTime)
    name = f"x{len(c.params)}"
    c.params[name] = limit.astimezone(UTC).isoformat(timespec="microseconds")
    return f"{moment.text} {word} :{name}"
