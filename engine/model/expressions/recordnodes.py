"""The nodes for the datamodel: ``records.C`` (a customer's records of a collection), ``LIST
where COND``, a bare field name inside ``COND``, ``LIST.FIELD`` (or ``RECORD.FIELD``) and the
aggregates ``count(LIST)``, ... (rules in ``aggregates``).

In the scope, ``records`` maps a collection to the customer's records newest first (the order
templates show); each record is a mapping with ``key``, its fields, ``created_at`` and
``updated_at``. A scope value with a ``complete(collection)`` method (the batch loader's view)
is asked through it, so an expression sees every record even when templates see at most
``records_limit``. ``records.C`` turns the list around: oldest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import ExpressionError
from engine.model.expressions.aggregates import AGGREGATE_FUNCTIONS
from engine.model.expressions.nodes import _Node
from engine.model.expressions.values import Scope, _Fn

# the scope key that holds the record a ``where`` condition is looking at
RECORD_KEY = "\x00record"


def records_in(scope: Scope, collection: str) -> tuple[Any, ...]:
    """The customer's records of ``collection`` in ``scope``, oldest first."""
    source = scope.get("records")
    if source is None:
        return ()
    complete = getattr(source, "complete", None)
    found = complete(collection) if complete is not None else source.get(collection)
    return tuple(reversed(found)) if found else ()


@dataclass(eq=False)
class _Records(_Node):
    """``records.COLLECTION``: the customer's records of a collection, oldest first."""

    collection: str
    offset: int

    def is_constant(self) -> bool:
        return False

    def compile(self) -> _Fn:
        collection = self.collection

        def records(scope: Scope) -> tuple[Any, ...]:
            return records_in(scope, collection)

        return records


@dataclass(eq=False)
class _Field(_Node):
    """A bare name inside a ``where`` condition: the field of the record being tested."""

    name: str
    collection: str
    offset: int

    def is_constant(self) -> bool:
        return False

    def compile(self) -> _Fn:
        name = self.name

        def field(scope: Scope) -> Any:
            record = scope.get(RECORD_KEY)
            return record.get(name) if isinstance(record, Mapping) else None

        return field


@dataclass(eq=False)
class _Where(_Node):
    """``LIST where COND``: the records of LIST for which COND is true, in their order."""

    source: _Node
    condition: _Node
    collection: str
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return (self.source, self.condition)

    def is_constant(self) -> bool:
        return False

    def compile(self) -> _Fn:
        get_source, test = self.source.compile(), self.condition.compile()

        def where(scope: Scope) -> tuple[Any, ...]:
            records = get_source(scope)
            if not records:
                return ()
            inner = dict(scope)
            kept = []
            for record in records:
                inner[RECORD_KEY] = record
                if test(inner):
                    kept.append(record)
            return tuple(kept)

        return where


@dataclass(eq=False)
class _Pluck(_Node):
    """``LIST.FIELD``: the field's value of each record (null where a record has none); on a
    single record (``first(records.orders).total``) the field's value."""

    source: _Node
    field: str
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return (self.source,)

    def is_constant(self) -> bool:
        return False

    def compile(self) -> _Fn:
        get, name = self.source.compile(), self.field

        def pluck(scope: Scope) -> Any:
            value = get(scope)
            if isinstance(value, tuple | list):
                return tuple(
                    [item.get(name) if isinstance(item, Mapping) else None for item in value]
                )
            if isinstance(value, Mapping):
                return value.get(name)
            return None

        return pluck


@dataclass(eq=False)
class _Aggregate(_Node):
    """``count(LIST)``, ``sum(LIST)``, ``min``, ``max``, ``avg``, ``any``, ``first``, ``last``."""

    name: str
    argument: _Node
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return (self.argument,)

    def compile(self) -> _Fn:
        function, offset = AGGREGATE_FUNCTIONS[self.name], self.offset
        get = self.argument.compile()

        def aggregate(scope: Scope) -> Any:
            return function(get(scope), offset)

        return aggregate


# What a node gives, known before evaluating: a list of records, a list of a field's values,
# one record, or a value (anything else, lists included).
RECORDS, VALUES, RECORD, VALUE = "records", "values", "record", "value"


def kind_of(node: _Node) -> str:
    if isinstance(node, _Records | _Where):
        return RECORDS
    if isinstance(node, _Pluck):
        source = kind_of(node.source)
        return VALUES if source == RECORDS else VALUE
    if isinstance(node, _Aggregate) and node.name in ("first", "last"):
        return RECORD if kind_of(node.argument) == RECORDS else VALUE
    return VALUE


def collection_of_node(node: _Node) -> str | None:
    """The collection whose records ``node`` gives (a list or one record), if it does."""
    if isinstance(node, _Records | _Where):
        return node.collection
    if isinstance(node, _Aggregate):
        return collection_of_node(node.argument)
    return None


def not_a_value(node: _Node, where: str) -> ExpressionError | None:
    """The error for records (or a field's list of values) used where a value belongs."""
    kind = kind_of(node)
    if kind == RECORDS:
        message = (
            f"{where} needs a value, not a list of records; count them with count(...) or "
            'test them with any(...), as in any(records.orders where status == "paid")'
        )
    elif kind == RECORD:
        message = (
            f"{where} needs a value, not a record; pick a field as in first(records.orders).total"
        )
    elif kind == VALUES:
        message = f"{where} needs a value, not a list of values; use sum(...), max(...), count(...)"
    else:
        return None
    return ExpressionError(message, node.offset)
