"""The walk over an expression tree that writes SQL, with the null rules of DESIGN.md section 7.

Each part becomes ``Sql``: its text and its kind (num, text, bool, date, datetime, null,
groups). Kinds are known before any row is read (the profile's types), so a construct the
database cannot answer the way Python would is refused at compile time, naming the construct.

A predicate may be NULL where Python says false: in a WHERE clause and under AND/OR that is the
same answer, so plain comparisons stay plain (and indexes stay usable). Under ``not``, and
wherever a predicate becomes a value, it is made total with COALESCE first.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.errors import ExpressionError
from engine.model.expressions import tree
from engine.store.sqlexpr.dialects import COLUMNS, KINDS, Dialect


class NotCompilable(ExpressionError):
    """An expression (or part of one) that cannot run in the database."""


@dataclass(frozen=True)
class Sql:
    text: str
    kind: str
    total: bool = True  # a bool that is never NULL
    iso: bool = True  # a date-time held as ISO text (not a timestamptz column)


_NULL = Sql("NULL", "null")
# kinds as messages name them
KIND_NAMES = {
    "num": "number",
    "text": "text",
    "bool": "true/false",
    "date": "a date",
    "datetime": "a date and time",
    "null": "null",
    "groups": "the groups",
}
_COMPARE_WORDS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_VERBS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}


class Compiler:
    def __init__(
        self,
        dialect: Dialect,
        profile: Mapping[str, str],
        now: datetime,
        today: date,
        datamodel: Mapping[str, Mapping[str, str]] | None = None,
        typed: Collection[str] = (),
    ) -> None:
        from engine.store.sqlexpr.records import Source

        self.dialect = dialect
        self.profile = profile
        self.typed = typed  # profile fields the customers table has typed columns for
        self.datamodel = datamodel or {}
        self.records: list[Source] = []  # the records under test, innermost last
        self.aliases = 0
        self.now = now
        self.today = today
        self.params: dict[str, Any] = {}

    # -- values

    def bind(self, value: Any, kind: str) -> Sql:
        name = f"x{len(self.params)}"
        if kind == "num" and not self.dialect.postgres and isinstance(value, Decimal):
            value = float(value)
        if kind == "bool" and not self.dialect.postgres:
            value = int(value)
        if kind == "date":
            value = value.isoformat()
        if kind == "datetime":
            value = value.isoformat()
        self.params[name] = value
        return Sql(self.dialect.param(f":{name}", kind), kind)

    def kind_of(self, node: tree.Node) -> str:
        """The kind ``node`` has, without binding anything."""
        count = len(self.params)
        kind = self.value(node).kind
        for name in list(self.params)[count:]:
            del self.params[name]
        return kind

    def constant(self, value: Any, node: tree.Node) -> Sql:
        if value is None:
            return _NULL
        if isinstance(value, bool):
            return self.bind(value, "bool")
        if isinstance(value, int | float | Decimal):
            return self.bind(value, "num")
        if isinstance(value, str):
            return self.bind(value, "text")
        if isinstance(value, datetime):
            return self.bind(value, "datetime")
        if isinstance(value, date):
            return self.bind(value, "date")
        raise NotCompilable("a list can only stand after 'in' in a selection", node.offset)

    def value(self, node: tree.Node) -> Sql:
        if isinstance(node, tree.Const):
            return self.constant(node.value, node)
        if isinstance(node, tree.Ref):
            return self.reference(node)
        if isinstance(node, tree.Arith):
            return self.arithmetic(node)
        if isinstance(node, tree.Neg):
            operand = self.value(node.operand)
            if operand.kind == "null":
                return _NULL
            if operand.kind != "num":
                raise NotCompilable(f"cannot make {KIND_NAMES[operand.kind]} negative", node.offset)
            return Sql(f"(-{operand.text})", "num")
        if isinstance(node, tree.Call):
            from engine.store.sqlexpr.functions import call

            return call(self, node)
        if isinstance(node, tree.List):
            raise NotCompilable("a list can only stand after 'in' in a selection", node.offset)
        if isinstance(node, _RECORD_NODES):
            from engine.store.sqlexpr import records

            return records.value(c=self, node=node)
        predicate = self.predicate(node)
        return Sql(self.total(predicate), "bool")

    def reference(self, node: tree.Ref) -> Sql:
        root, fields = node.path[0], node.path[1:]
        if root == "now":
            return self.bind(self.now, "datetime")
        if root == "today":
            return self.bind(self.today, "date")
        if root == "data":
            if not fields:
                raise NotCompilable("'data' as a whole has no value in a selection", node.offset)
            return _NULL  # a selection has no entry data
        if len(fields) != 1:
            if not fields:
                raise NotCompilable("'customer' as a whole cannot be compared", node.offset)
            return _NULL  # a path through a plain value is null
        name = fields[0]
        if name == "groups":
            return Sql("", "groups")
        if name in COLUMNS:
            return Sql(f"c.{name}", COLUMNS[name], total=False, iso=False)
        kind = self.profile.get(name)
        if kind is None:
            return _NULL  # a missing field is null
        text = self.dialect.profile_field(name, kind, typed=name in self.typed)
        return Sql(text, KINDS[kind], total=False)

    def arithmetic(self, node: tree.Arith) -> Sql:
        result = self.value(node.first)
        for op, operand, offset in node.rest:
            other = self.value(operand)
            if result.kind == "null" or other.kind == "null":
                result = _NULL
            elif op == "+" and result.kind == other.kind == "text":
                result = Sql(f"({result.text} || {other.text})", "text")
            elif result.kind == other.kind == "num":
                if op == "/":
                    result = Sql(self.dialect.divide(result.text, other.text), "num")
                else:
                    result = Sql(f"({result.text} {op} {other.text})", "num")
            else:
                message = (
                    f"cannot {_VERBS[op]} {KIND_NAMES[result.kind]} and {KIND_NAMES[other.kind]}"
                )
                raise NotCompilable(message + "; both sides must be numbers", offset)
        return result

    # -- predicates

    def total(self, predicate: Sql) -> str:
        if predicate.total:
            return predicate.text
        return f"COALESCE({predicate.text}, {self.dialect.false()})"

    def predicate(self, node: tree.Node) -> Sql:
        """SQL that is true exactly where Python's value is truthy (NULL counts as false)."""
        if isinstance(node, tree.Logic):
            parts = [self.predicate(operand) for operand in node.operands]
            joined = f" {node.op.upper()} ".join(part.text for part in parts)
            return Sql(f"({joined})", "bool", total=all(part.total for part in parts))
        if isinstance(node, tree.Not):
            return Sql(f"(NOT {self.total(self.predicate(node.operand))})", "bool")
        if isinstance(node, tree.Compare):
            from engine.store.sqlexpr.comparisons import compare

            return compare(self, node)
        if isinstance(node, tree.Member):
            from engine.store.sqlexpr.comparisons import member

            return member(self, node)
        if _is_records(node):
            from engine.store.sqlexpr import records

            return records.exists(self, node)
        return self.truthy(self.value(node))

    def truthy(self, value: Sql) -> Sql:
        kind, text = value.kind, value.text
        if kind == "bool":
            return value
        if kind == "null":
            return Sql(self.dialect.false(), "bool")
        if kind == "num":
            return Sql(f"({text} <> 0)", "bool", total=False)
        if kind == "text":
            return Sql(f"({text} <> '')", "bool", total=False)
        if kind == "groups":
            return Sql(f"EXISTS ({groups_of()})", "bool")
        return Sql(f"({text} IS NOT NULL)", "bool")


_RECORD_NODES = (tree.Field, tree.Aggregate, tree.Pluck, tree.Records, tree.Where)


def _is_records(node: tree.Node) -> bool:
    """Whether ``node`` gives records (a list, or one record from first/last)."""
    if isinstance(node, tree.Records | tree.Where):
        return True
    return (
        isinstance(node, tree.Aggregate)
        and node.name in ("first", "last")
        and (isinstance(node.argument, tree.Records | tree.Where))
    )


def groups_of(name: str | None = None) -> str:
    """The customer's memberships (of the group named by SQL ``name`` when given)."""
    query = "SELECT 1 FROM memberships m WHERE m.customer_id = c.system_id"
    if name is None:
        return query
    return (
        "SELECT 1 FROM memberships m JOIN groups g ON g.id = m.group_id "
        f"WHERE m.customer_id = c.system_id AND g.name = {name}"
    )
