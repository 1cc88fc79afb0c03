"""Expressions over records in SQL: ``records.C``, ``LIST where COND``, ``LIST.FIELD`` and the
aggregates become correlated subqueries on the records table (its index on customer_id,
collection, created_at serves them), with the rules of ``engine.model.expressions.aggregates``:
nulls are skipped, ``sum`` and ``count`` of nothing are 0, records are in ``created_at`` order
(then in the order they were stored)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.model.expressions import tree
from engine.store.sqlexpr.compiler import KIND_NAMES, NotCompilable, Sql
from engine.store.sqlexpr.dialects import KINDS

if TYPE_CHECKING:
    from engine.store.sqlexpr.compiler import Compiler

_COLUMNS = {"key": "text", "created_at": "datetime", "updated_at": "datetime"}


@dataclass
class Source:
    """A customer's records of one collection, narrowed by conditions."""

    collection: str
    alias: str
    conditions: list[str] = field(default_factory=list)

    def rows(self, c: Compiler, *, correlated: bool = True) -> str:
        a = self.alias
        collection = c.bind(self.collection, "text").text
        tests = [f"{a}.collection = {collection}"]
        if correlated:
            tests.insert(0, f"{a}.customer_id = c.system_id")
        return f"FROM records {a} WHERE {' AND '.join([*tests, *self.conditions])}"


def source(c: Compiler, node: tree.Node) -> Source:
    """The records a node stands for (``records.C`` or ``... where COND``)."""
    if isinstance(node, tree.Records):
        _fields(c, node.collection, node)
        c.aliases += 1
        return Source(node.collection, f"r{c.aliases}")
    if isinstance(node, tree.Where):
        found = source(c, node.source)
        c.records.append(found)
        try:
            found.conditions.append(c.predicate(node.condition).text)
        finally:
            c.records.pop()
        return found
    raise NotCompilable("expected records here, such as records.orders", node.offset)


def _fields(c: Compiler, collection: str, node: tree.Node) -> dict[str, str]:
    found = c.datamodel.get(collection)
    if found is None:
        raise NotCompilable(f"unknown collection '{collection}'", node.offset)
    return dict(found)


def record_field(c: Compiler, rows: Source, name: str, node: tree.Node) -> Sql:
    """A field of the record under test (``alias``): its own field wins over the column."""
    kind = _fields(c, rows.collection, node).get(name)
    a, dialect = rows.alias, c.dialect
    if kind is None:
        if name not in _COLUMNS:
            raise NotCompilable(f"'{name}' is not a field of {rows.collection}", node.offset)
        return Sql(f"{a}.{name}", _COLUMNS[name], total=False, iso=False)
    value = dialect.json_field(f"{a}.data", name, kind)
    if name not in _COLUMNS:
        return Sql(value, KINDS[kind], total=False)
    if KINDS[kind] != _COLUMNS[name]:
        raise NotCompilable(
            f"the field '{name}' of {rows.collection} cannot run in the database", node.offset
        )
    present = dialect.json_has(f"{a}.data", name)
    column = dialect.column_text(f"{a}.{name}", _COLUMNS[name])
    return Sql(f"(CASE WHEN {present} THEN {value} ELSE {column} END)", KINDS[kind], total=False)


def value(c: Compiler, node: tree.Node) -> Sql:
    """A value from records: a field inside ``where``, an aggregate, ``first(...).FIELD``."""
    if isinstance(node, tree.Field):
        if not c.records:
            raise NotCompilable(f"'{node.name}' stands outside a where condition", node.offset)
        return record_field(c, c.records[-1], node.name, node)
    if isinstance(node, tree.Aggregate):
        return aggregate(c, node)
    if isinstance(node, tree.Pluck) and isinstance(node.source, tree.Aggregate):
        pick = node.source
        if pick.name in ("first", "last") and isinstance(pick.argument, tree.Records | tree.Where):
            rows = source(c, pick.argument)
            return _pick(
                c, rows, record_field(c, rows, node.field, node), pick.name, skip_null=False
            )
    raise NotCompilable(
        "a list of records or values cannot be compared; use count(...), sum(...), ...", node.offset
    )


def exists(c: Compiler, node: tree.Node) -> Sql:
    """Truthiness of records (``records.orders``, ``first(...)``): whether there are any."""
    if isinstance(node, tree.Aggregate) and node.name in ("first", "last"):
        node = node.argument
    return Sql(f"EXISTS (SELECT 1 {source(c, node).rows(c)})", "bool")


def aggregate(c: Compiler, node: tree.Aggregate) -> Sql:
    name, argument = node.name, node.argument
    if isinstance(argument, tree.Records | tree.Where):
        rows = source(c, argument)
        if name == "count":
            return Sql(f"(SELECT count(*) {rows.rows(c)})", "num")
        if name == "any":
            return Sql(f"EXISTS (SELECT 1 {rows.rows(c)})", "bool")
        if name in ("first", "last"):
            raise NotCompilable(
                f"{name}() gives a record; pick a field, as in {name}(...).total", node.offset
            )
        raise NotCompilable(
            f"{name}() needs values, as in {name}(records.orders.total)", node.offset
        )
    if not isinstance(argument, tree.Pluck) or not isinstance(
        argument.source, tree.Records | tree.Where
    ):
        raise NotCompilable(f"{name}() over this list cannot run in the database", node.offset)
    rows = source(c, argument.source)
    item = record_field(c, rows, argument.field, argument)
    return _over_values(c, name, rows, item, node)


def _over_values(c: Compiler, name: str, rows: Source, item: Sql, node: tree.Node) -> Sql:
    dialect, text = c.dialect, item.text
    if name == "count":
        return Sql(f"(SELECT count({text}) {rows.rows(c)})", "num")
    if name == "any":
        truthy = c.truthy(item).text
        return Sql(f"EXISTS (SELECT 1 {rows.rows(c)} AND {truthy})", "bool")
    if name in ("first", "last"):
        return _pick(c, rows, item, name, skip_null=True)
    if name in ("sum", "avg"):
        if item.kind != "num":
            raise NotCompilable(f"{name}() needs numbers, not {KIND_NAMES[item.kind]}", node.offset)
        total = f"(SELECT {name}({text}) {rows.rows(c)})"
        return Sql(f"COALESCE({total}, 0)" if name == "sum" else total, "num")
    if item.kind == "datetime":
        moment = dialect.instant(text, item.iso)
        return Sql(
            f"(SELECT {name}({moment}) {rows.rows(c)})", "datetime", iso=not dialect.postgres
        )
    if item.kind == "text":
        text = dialect.binary(text)
    return Sql(f"(SELECT {name}({text}) {rows.rows(c)})", item.kind)


def _pick(c: Compiler, rows: Source, item: Sql, name: str, *, skip_null: bool) -> Sql:
    """The field of the oldest (``first``) or newest (``last``) record."""
    moment = record_field(c, rows, "created_at", tree.Const(None, 0))
    order = c.dialect.instant(moment.text, moment.iso) if moment.iso else moment.text
    way = "ASC" if name == "first" else "DESC"
    extra = f" AND {item.text} IS NOT NULL" if skip_null else ""
    ordering = f"ORDER BY {order} {way}, {rows.alias}.id {way} LIMIT 1"
    return Sql(f"(SELECT {item.text} {rows.rows(c)}{extra} {ordering})", item.kind, iso=item.iso)


def among_values(c: Compiler, item: Sql, values: tree.Pluck, negated: bool) -> Sql:
    """``ITEM in LIST.FIELD``: whether a record's field equals the item."""
    rows = source(c, values.source)
    found = record_field(c, rows, values.field, values)
    if found.kind != item.kind:
        if negated:
            return Sql(f"({item.text} IS NOT NULL)", "bool")
        return Sql(c.dialect.false(), "bool")
    left, right = found.text, item.text
    if found.kind == "datetime":
        left, right = c.dialect.instant(left, found.iso), c.dialect.instant(right, item.iso)
    exists = f"EXISTS (SELECT 1 {rows.rows(c)} AND {left} = {right})"
    if negated:
        return Sql(f"({item.text} IS NOT NULL AND NOT {exists})", "bool", total=False)
    return Sql(exists, "bool", total=False)


_AT_LEAST = {">=": 0, ">": 1, "==": 0}
_MIRROR = {"<=": ">=", "<": ">", "==": "=="}


def count_at_least(c: Compiler, node: tree.Compare) -> Sql | None:
    """``count(RECORDS) >= N`` (N at least 1) as one grouped pass over the records, which the
    database runs once, instead of a subquery per customer. None when it does not apply (a
    condition on ``customer.X`` needs the customer: that stays correlated)."""
    op, counted, number = node.op, node.left, node.right
    if isinstance(counted, tree.Const):
        op, counted, number = _MIRROR.get(op, ""), node.right, node.left
    if op not in _AT_LEAST or not isinstance(number, tree.Const) or type(number.value) is not int:
        return None
    if not (isinstance(counted, tree.Aggregate) and counted.name == "count"):
        return None
    argument = counted.argument
    least = number.value + _AT_LEAST[op]
    if least < 1 or not isinstance(argument, tree.Records | tree.Where) or _customer_in(argument):
        return None
    rows = source(c, argument)
    having = "=" if op == "==" else ">="
    bound = c.bind(least, "num").text
    a = rows.alias
    grouped = (
        f"SELECT {a}.customer_id {rows.rows(c, correlated=False)} "
        f"GROUP BY {a}.customer_id HAVING count(*) {having} {bound}"
    )
    return Sql(f"c.system_id IN ({grouped})", "bool")


def _customer_in(node: tree.Node) -> bool:
    if isinstance(node, tree.Ref) and node.path[0] == "customer":
        return True
    return any(_customer_in(child) for child in node.children())
