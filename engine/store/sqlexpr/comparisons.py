"""Comparisons and membership in SQL: ``== != < <= > >=``, ``in`` and ``not in`` under the
expression rules (null on either side is false, except against a constant ``null``; values of
different kinds are simply not equal; text meeting a date is read as ISO 8601)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.model.expressions import tree
from engine.store.sqlexpr.clockrange import clock_range
from engine.store.sqlexpr.compiler import _COMPARE_WORDS, KIND_NAMES, NotCompilable, Sql, groups_of

if TYPE_CHECKING:
    from engine.store.sqlexpr.compiler import Compiler

_TEMPORAL = ("date", "datetime")


def compare(c: Compiler, node: tree.Compare) -> Sql:
    op, left, right = node.op, node.left, node.right
    if op in ("==", "!=") and (_is_null(right) or _is_null(left)):
        other = c.value(left if _is_null(right) else right)
        if other.kind == "groups":
            return Sql(c.dialect.true() if op == "!=" else c.dialect.false(), "bool")
        if other.kind == "null":
            return Sql(c.dialect.true() if op == "==" else c.dialect.false(), "bool")
        test = "IS NULL" if op == "==" else "IS NOT NULL"
        return Sql(f"({other.text} {test})", "bool")
    from engine.store.sqlexpr.records import count_at_least

    ranged = count_at_least(c, node) or clock_range(c, node)
    if ranged is not None:
        return ranged
    a = _operand(c, left, right)
    b = _operand(c, right, left)
    if a.kind == "null" or b.kind == "null":
        return Sql(c.dialect.false(), "bool")
    if a.kind == "groups" or b.kind == "groups":
        raise NotCompilable("a list of groups can only be used with 'in'", node.offset)
    if a.kind != b.kind and {a.kind, b.kind} != set(_TEMPORAL):
        if op in ("==", "!="):
            if op == "==":
                return Sql(c.dialect.false(), "bool")
            return Sql(f"({a.text} IS NOT NULL AND {b.text} IS NOT NULL)", "bool", total=False)
        raise NotCompilable(
            f"cannot compare {KIND_NAMES[a.kind]} with {KIND_NAMES[b.kind]}", node.offset
        )
    word = _COMPARE_WORDS[op]
    if a.kind in _TEMPORAL:
        x, y = _comparable_times(c, a, b)
        return Sql(c.dialect.order(word, x, y, "datetime"), "bool", total=False)
    return Sql(c.dialect.order(word, a.text, b.text, a.kind), "bool", total=False)


def _is_null(node: tree.Node) -> bool:
    return isinstance(node, tree.Const) and node.value is None


def _operand(c: Compiler, node: tree.Node, other: tree.Node) -> Sql:
    """One side of a comparison; constant text meeting a date or date-time is read as one."""
    other_kind = "" if isinstance(other, tree.Const) else c.kind_of(other)
    if isinstance(node, tree.Const) and isinstance(node.value, str):
        moment = _iso(node.value) if other_kind in _TEMPORAL else None
        return c.constant(node.value if moment is None else moment, node)
    value = c.value(node)
    if value.kind == "text" and other_kind in _TEMPORAL:
        raise NotCompilable(
            "comparing text with a date cannot run in the database; give the field "
            "the type date or datetime in sluis.yaml",
            node.offset,
        )
    return value


def _iso(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _comparable_times(c: Compiler, a: Sql, b: Sql) -> tuple[str, str]:
    """Two dates compare as ISO text; a date meeting a date-time is midnight in its zone."""
    if a.kind == b.kind == "date":
        return a.text, b.text
    if a.kind == "date":
        a = Sql(c.dialect.midnight(a.text, b.text, b.iso), "datetime")
    if b.kind == "date":
        b = Sql(c.dialect.midnight(b.text, a.text, a.iso), "datetime")
    return c.dialect.instant(a.text, a.iso), c.dialect.instant(b.text, b.iso)


def member(c: Compiler, node: tree.Member) -> Sql:
    negated = node.negated
    item = c.value(node.item)
    container = node.container
    if item.kind == "null":
        return Sql(c.dialect.false(), "bool")
    if isinstance(container, tree.Const) and isinstance(container.value, tuple):
        return _in_list(c, item, container.value, negated, node)
    if isinstance(container, tree.Pluck) and isinstance(
        container.source, tree.Records | tree.Where
    ):
        from engine.store.sqlexpr.records import among_values

        return among_values(c, item, container, negated)
    box = c.value(container)
    if box.kind == "null":
        return Sql(c.dialect.false(), "bool")
    if box.kind == "groups":
        if item.kind != "text":
            return _never(c, item, negated)
        exists = f"EXISTS ({groups_of(item.text)})"
        if negated:
            return Sql(f"({item.text} IS NOT NULL AND NOT {exists})", "bool", total=False)
        return Sql(exists, "bool")
    if box.kind == "text" and item.kind == "text":
        found = c.dialect.contains_text(box.text, item.text)
        return Sql(f"({found} {'=' if negated else '>'} 0)", "bool", total=False)
    word = "not in" if negated else "in"
    raise NotCompilable(f"'{word}' needs a list, the groups or text on its right", node.offset)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float | Decimal):
        return "num"
    if isinstance(value, str):
        return "text"
    if isinstance(value, datetime):
        return "datetime"
    return "date" if isinstance(value, date) else "list"


def _never(c: Compiler, item: Sql, negated: bool) -> Sql:
    if negated:
        return Sql(f"({item.text} IS NOT NULL)", "bool")
    return Sql(c.dialect.false(), "bool")


def _in_list(
    c: Compiler, item: Sql, values: tuple[Any, ...], negated: bool, node: tree.Node
) -> Sql:
    if item.kind == "groups":
        raise NotCompilable("a list of groups cannot be looked for in a list", node.offset)
    kept = []
    for value in values:
        if value is None:
            continue
        if isinstance(value, str) and item.kind in _TEMPORAL:
            value = _iso(value)
            if value is None:
                continue
        kind = _kind(value)
        if kind == item.kind or {kind, item.kind} == set(_TEMPORAL):
            kept.append(c.constant(value, node))
    if not kept:
        return _never(c, item, negated)
    if item.kind in _TEMPORAL:
        tests = [_comparable_times(c, item, value) for value in kept]
        either = " OR ".join(f"{x} = {y}" for x, y in tests)
        if negated:
            return Sql(f"({item.text} IS NOT NULL AND NOT ({either}))", "bool", total=False)
        return Sql(f"({either})", "bool", total=False)
    listed = ", ".join(value.text for value in kept)
    return Sql(f"({item.text} {'NOT IN' if negated else 'IN'} ({listed}))", "bool", total=False)
