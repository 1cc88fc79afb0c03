"""Aggregates over lists (``count``, ``sum``, ``min``, ``max``, ``avg``, ``any``, ``first``,
``last``), mostly over the records of a datamodel collection (``records.orders``).

The rules, shared with the SQL compiler:

* A list of records is in ``created_at`` order, oldest first (ties by when the record was stored);
  ``first`` is the oldest, ``last`` the newest. Other lists keep their own order.
* ``null`` elements are skipped: ``count`` counts the elements that are not null, ``sum``, ``min``,
  ``max`` and ``avg`` work on the others. ``null`` instead of a list counts as the empty list.
* Over nothing: ``count`` is 0, ``sum`` is 0, ``any`` is false; ``min``, ``max``, ``avg``,
  ``first`` and ``last`` are null.
* ``any`` is true when an element is true (a record always is): ``any(records.orders where
  status == "paid")`` is true when there is such an order.
* ``sum`` and ``avg`` need numbers; ``min`` and ``max`` need values with an order (numbers, text,
  dates).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.errors import ExpressionError
from engine.model.expressions.values import _add, _describe, _divide, _is_number, _order


def _elements(name: str, value: Any, offset: int) -> list[Any]:
    """The elements of a list that are not null; ``null`` is the empty list."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [item for item in value if item is not None]
    example = _EXAMPLES[name]
    message = f"{name}() needs a list, such as {example}; not {_describe(value)}"
    raise ExpressionError(message, offset)


def _numbers(name: str, value: Any, offset: int) -> list[Any]:
    items = _elements(name, value, offset)
    for item in items:
        if not _is_number(item):
            message = (
                f"{name}() needs numbers, such as {_EXAMPLES[name]}; "
                f"the list holds {_describe(item)}"
            )
            raise ExpressionError(message, offset)
    return items


def _count(value: Any, offset: int) -> int:
    return len(_elements("count", value, offset))


def _sum(value: Any, offset: int) -> Any:
    total: Any = 0
    for item in _numbers("sum", value, offset):
        total = _add(total, item, offset)
    return total


def _extreme(name: str, op: str) -> Callable[[Any, int], Any]:
    def extreme(value: Any, offset: int) -> Any:
        best: Any = None
        for item in _elements(name, value, offset):
            if isinstance(item, Mapping):
                message = f"{name}() needs values, not records; write {_EXAMPLES[name]}"
                raise ExpressionError(message, offset)
            if best is None or _order(op, item, best, offset):
                best = item
        return best

    return extreme


def _avg(value: Any, offset: int) -> Any:
    items = _numbers("avg", value, offset)
    if not items:
        return None
    total: Any = 0
    for item in items:
        total = _add(total, item, offset)
    return _divide(total, len(items), offset)


def _any(value: Any, offset: int) -> bool:
    return any(_elements("any", value, offset))


def _first(value: Any, offset: int) -> Any:
    items = _elements("first", value, offset)
    return items[0] if items else None


def _last(value: Any, offset: int) -> Any:
    items = _elements("last", value, offset)
    return items[-1] if items else None


AGGREGATE_FUNCTIONS: dict[str, Callable[[Any, int], Any]] = {
    "count": _count,
    "sum": _sum,
    "min": _extreme("min", "<"),
    "max": _extreme("max", ">"),
    "avg": _avg,
    "any": _any,
    "first": _first,
    "last": _last,
}
AGGREGATES = frozenset(AGGREGATE_FUNCTIONS)
# aggregates that need the values of a field rather than records
VALUE_AGGREGATES = frozenset({"sum", "min", "max", "avg"})
_EXAMPLES = {
    "count": 'count(records.orders where status == "paid")',
    "sum": "sum(records.orders.total)",
    "min": "min(records.orders.created_at)",
    "max": "max(records.orders.created_at)",
    "avg": "avg(records.orders.total)",
    "any": 'any(records.orders where status == "paid")',
    "first": "first(records.orders).total",
    "last": "last(records.orders).created_at",
}
