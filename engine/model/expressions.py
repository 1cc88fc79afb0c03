"""Expressions for ``where``, ``when``, split branches and ``until`` (DESIGN.md section 7).

An expression such as ``customer.country == "NL" and days_since(customer.joined) < 30`` is parsed
once (a hand-written tokenizer and a Pratt parser; never Python ``eval``) into a small tree that
is checked (unknown names and functions, arity, nesting), folded where it is constant, and
compiled into nested closures, so evaluating it for each of 100,000s of customers is cheap.

Rules that are easy to get wrong, decided here:

* A missing field, or a path through something that is not a record, is ``null``.
* A comparison (``== != < <= > >=``) or membership test (``in``, ``not in``) that meets ``null``
  on either side is false, as in SQL: when the country is missing, ``customer.country != "NL"``
  and ``customer.country not in ["NL"]`` are both false. The exception is comparing with a
  constant ``null``: ``x == null`` is true exactly when ``x`` is null, ``x != null`` exactly
  when it is not. ``exists(x)`` is true when ``x`` is neither null nor empty text.
* ``and``, ``or`` and ``not`` use truthiness (null, false, 0, "" and [] are false) and always give
  ``true`` or ``false``.
* Arithmetic with ``null`` gives ``null``, and so does dividing by zero. Whole numbers divide to a
  whole number when exact and to an exact decimal otherwise (``7 / 2`` is ``3.5``).
* Numbers compare by value whatever their Python type; a float meets a decimal through its
  shortest text, so ``1.1`` equals ``Decimal("1.1")``. ``true`` is not the number 1.
* A date meeting a date-time stands for midnight in the date-time's time zone; a naive date-time
  meeting an aware one is taken as UTC; text meeting a date or date-time is read as ISO 8601.
  Ordering values that have no order (``"a" < 3``) raises ``ExpressionError``; such values are
  simply not equal.
* Lists evaluate to tuples.
"""

from __future__ import annotations

import difflib
import functools
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any, NamedTuple

from engine.errors import ExpressionError

__all__ = ["FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "ROOT_NAMES", "Expression", "Reference"]

MAX_LENGTH = 10_000
MAX_DEPTH = 100
_MAX_DIGITS = 100

ROOT_NAMES = frozenset({"customer", "data", "now", "today"})
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
_KEYWORDS = frozenset({"and", "or", "not", "in", *_LITERALS})

Scope = Mapping[str, Any]
_Fn = Callable[[Scope], Any]

_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
# Decimal arithmetic runs in its own context so a caller's thread context cannot change results.
_DECIMAL = Context(prec=28, traps=[InvalidOperation, DivisionByZero, Overflow])


@dataclass(frozen=True)
class Reference:
    """A use of ``customer...``, ``data...``, ``now`` or ``today`` in an expression."""

    path: tuple[str, ...]
    offset: int


# ---------------------------------------------------------------------------------------------
# Values: description, equality, order, arithmetic


def _describe(value: Any) -> str:
    """Name a value the way a marketer would, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"number {value}" if value.bit_length() <= 200 else "a very large number"
    if isinstance(value, float | Decimal):
        return f"number {value}"
    if isinstance(value, str):
        return f"text {value if len(value) <= 40 else value[:37] + '...'!r}"
    if isinstance(value, datetime):
        return f"date and time {value.isoformat()}"
    if isinstance(value, date):
        return f"date {value.isoformat()}"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} value{'' if len(value) == 1 else 's'}"
    if isinstance(value, Mapping):
        return "a record"
    return f"a value of type {type(value).__name__}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _numeric_pair(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring a float and a Decimal together through the float's shortest text."""
    if isinstance(a, float) and isinstance(b, Decimal):
        return (Decimal(repr(a)), b) if math.isfinite(a) else (a, float(b))
    if isinstance(a, Decimal) and isinstance(b, float):
        return (a, Decimal(repr(b))) if math.isfinite(b) else (float(a), b)
    return a, b


@functools.lru_cache(maxsize=4096)
def _parse_iso(text: str) -> date | None:
    """Read ISO 8601 text as a date or date-time; None when it is neither."""
    if len(text) > 64:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None


def _temporal(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return _parse_iso(value)
    return None


def _same_awareness(a: datetime, b: datetime) -> tuple[datetime, datetime]:
    """A naive date-time meeting an aware one is taken as UTC."""
    a_naive, b_naive = a.utcoffset() is None, b.utcoffset() is None
    if a_naive == b_naive:
        return a, b
    if a_naive:
        return a.replace(tzinfo=UTC), b
    return a, b.replace(tzinfo=UTC)


def _temporal_pair(a: date, b: date) -> tuple[date, date]:
    """Make two dates or date-times comparable: a date is midnight in the other's time zone."""
    if isinstance(a, datetime):
        b_time = b if isinstance(b, datetime) else datetime.combine(b, time(), a.tzinfo)
        return _same_awareness(a, b_time)
    if isinstance(b, datetime):
        return _same_awareness(datetime.combine(a, time(), b.tzinfo), b)
    return a, b


# Types whose values compare correctly with Python's own operators when both sides share them.
_PLAIN = frozenset({str, int, bool, float, date})


def _equal(a: Any, b: Any) -> bool:
    """Equality under the expression rules (both sides may be anything, including None)."""
    kind = type(a)
    if kind is type(b) and kind in _PLAIN:
        return bool(a == b)
    if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if _is_number(a) and _is_number(b):
        try:
            x, y = _numeric_pair(a, b)
            return bool(x == y)
        except (ArithmeticError, ValueError):
            return False
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, date) or isinstance(b, date):
        x, y = _temporal(a), _temporal(b)
        if x is None or y is None:
            return False
        try:
            x, y = _temporal_pair(x, y)
        except OverflowError:
            return False
        return x == y
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        try:
            return bool(a == b)
        except Exception:
            return False
    return False


_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _order(op: str, a: Any, b: Any, offset: int) -> bool:
    """``a op b`` for an ordering operator; neither side is None."""
    compare = _ORDER[op]
    if _is_number(a) and _is_number(b):
        try:
            x, y = _numeric_pair(a, b)
            return bool(compare(x, y))
        except (ArithmeticError, ValueError):  # a Decimal NaN has no order
            return False
    if (isinstance(a, str) and isinstance(b, str)) or (isinstance(a, bool) and isinstance(b, bool)):
        return bool(compare(a, b))
    if isinstance(a, date) or isinstance(b, date):
        x, y = _temporal(a), _temporal(b)
        if x is not None and y is not None:
            try:
                return bool(compare(*_temporal_pair(x, y)))
            except OverflowError as exc:
                message = f"cannot compare {_describe(a)} with {_describe(b)}: out of range"
                raise ExpressionError(message, offset) from exc
        hint = '; write dates as "YYYY-MM-DD"' if isinstance(a, str) or isinstance(b, str) else ""
        raise ExpressionError(f"cannot compare {_describe(a)} with {_describe(b)}{hint}", offset)
    raise ExpressionError(f"cannot compare {_describe(a)} with {_describe(b)}", offset)


def _contains(container: Any, item: Any, offset: int) -> bool:
    """``item in container``; neither side is None."""
    if isinstance(container, str):
        if isinstance(item, str):
            return item in container
        message = f"cannot look for {_describe(item)} in {_describe(container)}; use text"
        raise ExpressionError(message, offset)
    if isinstance(container, list | tuple | set | frozenset):
        kind = type(item)
        for element in container:
            if type(element) is kind and kind in _PLAIN:
                if element == item:
                    return True
            elif _equal(item, element):
                return True
        return False
    if isinstance(container, Mapping):
        try:
            return item in container
        except TypeError:  # an unhashable item is no key
            return False
    message = f"'in' needs a list or text on its right, not {_describe(container)}"
    raise ExpressionError(message, offset)


_VERBS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}
_FLOAT_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}
_DECIMAL_OPS: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "+": _DECIMAL.add,
    "-": _DECIMAL.subtract,
    "*": _DECIMAL.multiply,
}


def _number_op(op: str, a: Any, b: Any, offset: int) -> Any:
    """``a op b`` for numbers (neither side None); dividing by zero gives None."""
    if not (_is_number(a) and _is_number(b)):
        hint = "; both sides must be numbers" + (", or both text" if op == "+" else "")
        message = f"cannot {_VERBS[op]} {_describe(a)} and {_describe(b)}{hint}"
        raise ExpressionError(message, offset)
    try:
        if isinstance(a, Decimal) or isinstance(b, Decimal):
            a, b = _numeric_pair(a, b)
            if not isinstance(a, float):
                x, y = Decimal(a), Decimal(b)
                if op == "/":
                    return None if y.is_zero() else _DECIMAL.divide(x, y)
                return _DECIMAL_OPS[op](x, y)
        if op != "/":
            return _FLOAT_OPS[op](a, b)
        if b == 0:
            return None
        if isinstance(a, int) and isinstance(b, int):
            whole, rest = divmod(a, b)
            return whole if rest == 0 else _DECIMAL.divide(Decimal(a), Decimal(b))
        return a / b
    except (ArithmeticError, ValueError) as exc:
        message = f"cannot {_VERBS[op]} {_describe(a)} and {_describe(b)}: the result is too large"
        raise ExpressionError(message, offset) from exc


def _add(a: Any, b: Any, offset: int) -> Any:
    if type(a) is int and type(b) is int:
        return a + b
    if a is None or b is None:
        return None
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    return _number_op("+", a, b, offset)


def _subtract(a: Any, b: Any, offset: int) -> Any:
    if type(a) is int and type(b) is int:
        return a - b
    return None if a is None or b is None else _number_op("-", a, b, offset)


def _multiply(a: Any, b: Any, offset: int) -> Any:
    return None if a is None or b is None else _number_op("*", a, b, offset)


def _divide(a: Any, b: Any, offset: int) -> Any:
    return None if a is None or b is None else _number_op("/", a, b, offset)


_ARITHMETIC: dict[str, Callable[[Any, Any, int], Any]] = {
    "+": _add,
    "-": _subtract,
    "*": _multiply,
    "/": _divide,
}


def _negate(value: Any, offset: int) -> Any:
    if value is None:
        return None
    if not _is_number(value):
        raise ExpressionError(
            f"cannot make {_describe(value)} negative; '-' needs a number", offset
        )
    if isinstance(value, Decimal):
        try:
            return _DECIMAL.minus(value)
        except ArithmeticError as exc:
            raise ExpressionError(f"cannot make {_describe(value)} negative", offset) from exc
    return -value


# ---------------------------------------------------------------------------------------------
# Functions: each takes the argument's value, the scope and the call's offset.


def _now(scope: Scope, offset: int) -> datetime:
    now = scope.get("now")
    if isinstance(now, datetime):
        return now
    raise ExpressionError("the current time ('now') is not available here", offset)


def _today(scope: Scope, offset: int) -> date:
    today = scope.get("today")
    if isinstance(today, datetime):
        return today.date()
    if isinstance(today, date):
        return today
    return _now(scope, offset).date()


def _moment(name: str, value: Any, offset: int) -> date | None:
    """The date or date-time a time function was given (None for null)."""
    if value is None:
        return None
    moment = _temporal(value)
    if moment is None:
        message = f'{name}() needs a date (such as "2026-01-31") or a date and time, '
        raise ExpressionError(message + f"not {_describe(value)}", offset)
    return moment


def _days_since(value: Any, scope: Scope, offset: int) -> int | None:
    moment = _moment("days_since", value, offset)
    if moment is None:
        return None
    if isinstance(moment, datetime):
        now, moment = _same_awareness(_now(scope, offset), moment)
        return (now - moment) // _DAY
    return (_today(scope, offset) - moment).days


def _days_until(value: Any, scope: Scope, offset: int) -> int | None:
    moment = _moment("days_until", value, offset)
    if moment is None:
        return None
    if isinstance(moment, datetime):
        now, moment = _same_awareness(_now(scope, offset), moment)
        return (moment - now) // _DAY
    return (moment - _today(scope, offset)).days


def _hours_since(value: Any, scope: Scope, offset: int) -> int | None:
    moment = _moment("hours_since", value, offset)
    if moment is None:
        return None
    now = _now(scope, offset)
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time(), now.tzinfo)
    now, moment = _same_awareness(now, moment)
    return (now - moment) // _HOUR


def _lower(value: Any, scope: Scope, offset: int) -> str | None:
    if value is None or isinstance(value, str):
        return value if value is None else value.lower()
    raise ExpressionError(f"lower() needs text, not {_describe(value)}", offset)


def _upper(value: Any, scope: Scope, offset: int) -> str | None:
    if value is None or isinstance(value, str):
        return value if value is None else value.upper()
    raise ExpressionError(f"upper() needs text, not {_describe(value)}", offset)


def _len(value: Any, scope: Scope, offset: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, str | list | tuple | set | frozenset | Mapping):
        return len(value)
    raise ExpressionError(f"len() needs text or a list, not {_describe(value)}", offset)


def _exists(value: Any, scope: Scope, offset: int) -> bool:
    return not (value is None or (isinstance(value, str) and value == ""))


def _date(value: Any, scope: Scope, offset: int) -> date | None:
    if value is None:
        return None
    moment = _temporal(value)
    if moment is None:
        message = f'date() needs a real date written as "YYYY-MM-DD", not {_describe(value)}'
        raise ExpressionError(message, offset)
    return moment.date() if isinstance(moment, datetime) else moment


_FUNCTIONS: dict[str, Callable[[Any, Scope, int], Any]] = {
    "days_since": _days_since,
    "days_until": _days_until,
    "hours_since": _hours_since,
    "lower": _lower,
    "upper": _upper,
    "len": _len,
    "exists": _exists,
    "date": _date,
}
FUNCTIONS = frozenset(_FUNCTIONS)
_CLOCK_FUNCTIONS = frozenset({"days_since", "days_until", "hours_since"})
_EXAMPLES = {
    "days_since": "days_since(customer.signed_up)",
    "days_until": "days_until(customer.birthday)",
    "hours_since": "hours_since(data.ordered_at)",
    "lower": "lower(customer.email)",
    "upper": "upper(customer.country)",
    "len": "len(customer.groups)",
    "exists": "exists(customer.email)",
    "date": 'date("2026-01-31")',
}


# ---------------------------------------------------------------------------------------------
# The tree: each node knows its depth and compiles itself into a closure over the scope.


class _Node:
    offset: int
    depth: int

    def __post_init__(self) -> None:
        self.depth = 1 + max((child.depth for child in self.children()), default=0)

    def children(self) -> tuple[_Node, ...]:
        return ()

    def is_constant(self) -> bool:
        return all(isinstance(child, _Const) for child in self.children())

    def compile(self) -> _Fn:
        raise NotImplementedError


@dataclass(eq=False)
class _Const(_Node):
    value: Any
    offset: int

    def compile(self) -> _Fn:
        value = self.value

        def constant(scope: Scope) -> Any:
            return value

        return constant


def _is_null(node: _Node) -> bool:
    return isinstance(node, _Const) and node.value is None


@dataclass(eq=False)
class _Ref(_Node):
    path: tuple[str, ...]
    offset: int

    def is_constant(self) -> bool:
        return False

    def compile(self) -> _Fn:
        root, fields = self.path[0], self.path[1:]
        if not fields:

            def whole(scope: Scope) -> Any:
                return scope.get(root)

            return whole
        if len(fields) == 1:
            name = fields[0]

            def field(scope: Scope) -> Any:
                record = scope.get(root)
                if type(record) is dict:
                    return record.get(name)
                return _walk(record, fields)

            return field

        def path(scope: Scope) -> Any:
            return _walk(scope.get(root), fields)

        return path


def _walk(value: Any, fields: tuple[str, ...]) -> Any:
    for name in fields:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


@dataclass(eq=False)
class _Not(_Node):
    operand: _Node
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return (self.operand,)

    def compile(self) -> _Fn:
        get = self.operand.compile()

        def negation(scope: Scope) -> bool:
            return not get(scope)

        return negation


@dataclass(eq=False)
class _Neg(_Node):
    operand: _Node
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return (self.operand,)

    def compile(self) -> _Fn:
        get, offset = self.operand.compile(), self.offset

        def minus(scope: Scope) -> Any:
            return _negate(get(scope), offset)

        return minus


@dataclass(eq=False)
class _Logic(_Node):
    op: str  # "and" or "or"; chains are flat so long chains do not nest
    operands: list[_Node]  # the parser appends while it reads a chain
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return tuple(self.operands)

    def compile(self) -> _Fn:
        getters = tuple(operand.compile() for operand in self.operands)
        if len(getters) == 2:
            first, second = getters
            if self.op == "and":

                def both(scope: Scope) -> bool:
                    return bool(first(scope) and second(scope))

                return both

            def either(scope: Scope) -> bool:
                return bool(first(scope) or second(scope))

            return either
        if self.op == "and":

            def every(scope: Scope) -> bool:
                return all(get(scope) for get in getters)

            return every

        def some(scope: Scope) -> bool:
            return any(get(scope) for get in getters)

        return some


@dataclass(eq=False)
class _Arith(_Node):
    first: _Node
    rest: list[tuple[str, _Node, int]]  # (operator, operand, operator offset), left to right
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return (self.first, *(operand for _, operand, _ in self.rest))

    def compile(self) -> _Fn:
        first = self.first.compile()
        steps = tuple((_ARITHMETIC[op], node.compile(), at) for op, node, at in self.rest)
        if len(steps) == 1:
            ((apply, second, at),) = steps

            def pair(scope: Scope) -> Any:
                return apply(first(scope), second(scope), at)

            return pair

        def chain(scope: Scope) -> Any:
            value = first(scope)
            for apply, get, at in steps:
                value = apply(value, get(scope), at)
            return value

        return chain


@dataclass(eq=False)
class _Compare(_Node):
    op: str
    left: _Node
    right: _Node
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return (self.left, self.right)

    def compile(self) -> _Fn:
        op, left, right, offset = self.op, self.left, self.right, self.offset
        if op in ("==", "!=") and (_is_null(left) or _is_null(right)):
            return _null_test(op, right if _is_null(left) else left)
        if op in ("==", "!=") and isinstance(left, _Const) and not isinstance(right, _Const):
            left, right = right, left
        get_left = left.compile()
        if isinstance(right, _Const) and _fast_paths(right.value)[0] is not _Never:
            return _compare_constant(op, get_left, right.value, offset)
        get_right = right.compile()
        if op in ("==", "!="):
            equal = op == "=="

            def equality(scope: Scope) -> bool:
                a, b = get_left(scope), get_right(scope)
                if a is None or b is None:
                    return False
                return _equal(a, b) == equal

            return equality
        compare = _ORDER[op]

        def order(scope: Scope) -> bool:
            a, b = get_left(scope), get_right(scope)
            if a is None or b is None:
                return False
            if type(a) is type(b) and type(a) in _PLAIN:
                return bool(compare(a, b))
            return _order(op, a, b, offset)

        return order


def _null_test(op: str, other: _Node) -> _Fn:
    get = other.compile()
    if op == "==":

        def is_null(scope: Scope) -> bool:
            return get(scope) is None

        return is_null

    def is_not_null(scope: Scope) -> bool:
        return get(scope) is not None

    return is_not_null


class _Never:
    """A type no value has: the unused slot of a fast path."""


def _fast_paths(constant: Any) -> tuple[type, Any, type, Any]:
    """Up to two (value type, comparable constant) pairs that Python compares correctly."""
    kind = type(constant)
    if kind is int or kind is float:
        return kind, constant, (float if kind is int else int), constant
    if kind is Decimal and constant.is_finite():
        # A float meets a decimal through its shortest text; when the decimal is itself the
        # shortest text of a float, comparing with that float gives the same answer.
        as_float = float(constant)
        if Decimal(repr(as_float)) == constant:
            return int, constant, float, as_float
        return int, constant, _Never, None
    if kind in _PLAIN:
        return kind, constant, _Never, None
    return _Never, None, _Never, None


def _compare_constant(op: str, get: _Fn, constant: Any, offset: int) -> _Fn:
    """The common case ``customer.x OP literal``, with fast paths for the literal's type."""
    kind, fast, other_kind, other_fast = _fast_paths(constant)
    if op in ("==", "!="):
        equal = op == "=="

        def equality(scope: Scope) -> bool:
            value = get(scope)
            if type(value) is kind:
                return bool(value == fast) == equal
            if value is None:
                return False
            if type(value) is other_kind:
                return bool(value == other_fast) == equal
            return _equal(value, constant) == equal

        return equality
    compare = _ORDER[op]

    def order(scope: Scope) -> bool:
        value = get(scope)
        if type(value) is kind:
            return bool(compare(value, fast))
        if value is None:
            return False
        if type(value) is other_kind:
            return bool(compare(value, other_fast))
        return _order(op, value, constant, offset)

    return order


@dataclass(eq=False)
class _Member(_Node):
    negated: bool
    item: _Node
    container: _Node
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return (self.item, self.container)

    def compile(self) -> _Fn:
        negated, offset = self.negated, self.offset
        get_item = self.item.compile()
        values = self.container.value if isinstance(self.container, _Const) else None
        if isinstance(values, tuple) and values and all(type(v) is str for v in values):
            words = frozenset(values)

            def in_words(scope: Scope) -> bool:
                item = get_item(scope)
                if type(item) is str:
                    return (item in words) != negated
                if item is None:
                    return False
                return _contains(values, item, offset) != negated

            return in_words
        get_container = self.container.compile()

        def membership(scope: Scope) -> bool:
            item, container = get_item(scope), get_container(scope)
            if item is None or container is None:
                return False
            return _contains(container, item, offset) != negated

        return membership


@dataclass(eq=False)
class _Call(_Node):
    name: str
    argument: _Node
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return (self.argument,)

    def is_constant(self) -> bool:
        return self.name not in _CLOCK_FUNCTIONS and isinstance(self.argument, _Const)

    def compile(self) -> _Fn:
        name, function, offset = self.name, _FUNCTIONS[self.name], self.offset
        get = self.argument.compile()

        def call(scope: Scope) -> Any:
            value = get(scope)
            try:
                return function(value, scope, offset)
            except (OverflowError, ValueError) as exc:
                message = f"{name}() cannot work with {_describe(value)}: it is out of range"
                raise ExpressionError(message, offset) from exc

        return call


@dataclass(eq=False)
class _List(_Node):
    items: tuple[_Node, ...]
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return self.items

    def compile(self) -> _Fn:
        getters = tuple(item.compile() for item in self.items)

        def make_list(scope: Scope) -> tuple[Any, ...]:
            return tuple([get(scope) for get in getters])

        return make_list


# ---------------------------------------------------------------------------------------------
# Tokenizer


class _Token(NamedTuple):
    kind: str  # "number", "string", "name", "op" or "end"
    text: str  # as written in the source
    value: Any
    offset: int


_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_NAME = re.compile(r"[^\W\d]\w*")
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "(", ")", "[", "]", ",", ".")
_MISTAKES = {
    "<>": "'<>' is not an operator; use '!=' to compare",
    "&&": "'&&' is not an operator; use 'and'",
    "||": "'||' is not an operator; use 'or'",
    "=": "'=' is not an operator; use '==' to compare",
    "!": "'!' is not an operator; use 'not'",
    "&": "'&' is not an operator; use 'and'",
    "|": "'|' is not an operator; use 'or'",
    "%": "'%' is not supported; the operators are + - * /",
}
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}
_HEX = frozenset("0123456789abcdefABCDEF")


def _column(offset: int) -> int:
    return offset + 1


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, end = 0, len(source)
    while i < end:
        char = source[i]
        if char.isspace():
            i += 1
        elif char in "\"'":
            i = _read_string(source, i, tokens)
        elif "0" <= char <= "9":
            i = _read_number(source, i, tokens)
        elif name := _NAME.match(source, i):
            tokens.append(_Token("name", name.group(), None, i))
            i = name.end()
        elif source.startswith("<>", i):
            raise ExpressionError(_MISTAKES["<>"], i)
        elif op := next((op for op in _OPERATORS if source.startswith(op, i)), None):
            tokens.append(_Token("op", op, None, i))
            i += len(op)
        elif mistake := next((m for m in _MISTAKES if source.startswith(m, i)), None):
            raise ExpressionError(_MISTAKES[mistake], i)
        else:
            shown = f"'{char}'" if char.isprintable() else f"U+{ord(char):04X}"
            raise ExpressionError(f"unexpected character {shown} at column {_column(i)}", i)
    tokens.append(_Token("end", "", None, end))
    return tokens


def _read_number(source: str, start: int, tokens: list[_Token]) -> int:
    match = _NUMBER.match(source, start)
    assert match is not None  # the caller saw a digit
    text, end = match.group(), match.end()
    if end < len(source) and source[end] == ".":
        message = f"malformed number '{text}.' at column {_column(start)}; write decimals as 1.5"
        raise ExpressionError(message, start)
    if end < len(source) and (source[end].isalnum() or source[end] == "_"):
        message = (
            f"unexpected '{source[end]}' right after the number {text} at column "
            f"{_column(end)}; put a space or an operator between them"
        )
        raise ExpressionError(message, end)
    if len(text) > _MAX_DIGITS:
        message = (
            f"the number at column {_column(start)} is too long (at most {_MAX_DIGITS} digits)"
        )
        raise ExpressionError(message, start)
    value: int | Decimal = Decimal(text) if "." in text else int(text)
    tokens.append(_Token("number", text, value, start))
    return end


def _read_string(source: str, start: int, tokens: list[_Token]) -> int:
    quote, i = source[start], start + 1
    parts: list[str] = []
    unterminated = f"unterminated string starting at column {_column(start)}; close it with {quote}"
    while True:
        if i >= len(source):
            raise ExpressionError(unterminated, start)
        char = source[i]
        if char == quote:
            break
        if char != "\\":
            stop = i + 1
            while stop < len(source) and source[stop] not in (quote, "\\"):
                stop += 1
            parts.append(source[i:stop])
            i = stop
            continue
        escape = source[i + 1 : i + 2]
        if not escape:
            raise ExpressionError(unterminated, start)
        if escape in _ESCAPES:
            parts.append(_ESCAPES[escape])
            i += 2
        elif (
            escape == "u" and len(digits := source[i + 2 : i + 6]) == 4 and _HEX.issuperset(digits)
        ):
            parts.append(chr(int(digits, 16)))
            i += 6
        else:
            shown = escape if escape.isprintable() else f"U+{ord(escape):04X}"
            message = (
                f"unknown escape '\\{shown}' at column {_column(i)}; write '\\\\' for a backslash "
                f"(known escapes: \\\" \\' \\\\ \\n \\t \\r \\uXXXX)"
            )
            raise ExpressionError(message, i)
    tokens.append(_Token("string", source[start : i + 1], "".join(parts), start))
    return i + 1


# ---------------------------------------------------------------------------------------------
# Parser (Pratt): binding powers from low to high.

_OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _UNARY = range(1, 8)
_INFIX = {
    "or": _OR,
    "and": _AND,
    "in": _COMPARE,
    "not in": _COMPARE,
    **dict.fromkeys(("==", "!=", "<", "<=", ">", ">="), _COMPARE),
    "+": _SUM,
    "-": _SUM,
    "*": _PRODUCT,
    "/": _PRODUCT,
}
_NAME_HINTS = {"None": "null", "nil": "null", "undefined": "null", "is": "=="}


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.references: list[Reference] = []

    # -- token helpers

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.tokens[self.pos]
        if token.kind != "end":
            self.pos += 1
        return token

    def at_op(self, text: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.text == text

    def infix(self) -> str | None:
        token = self.peek()
        if token.kind == "op":
            return token.text if token.text in _INFIX else None
        if token.kind == "name":
            if token.text in ("and", "or", "in"):
                return token.text
            after = self.peek(1)
            if token.text == "not" and after.kind == "name" and after.text == "in":
                return "not in"
        return None

    # -- grammar

    def parse(self) -> _Node:
        if self.peek().kind == "end":
            raise ExpressionError(
                'empty expression; write a condition such as customer.country == "NL"', 0
            )
        node = self.expression(0, 1)
        if self.peek().kind != "end":
            raise self.unexpected(self.peek())
        return node

    def expression(self, min_power: int, depth: int) -> _Node:
        if depth > MAX_DEPTH:
            raise self.too_deep(self.peek().offset)
        left = self.prefix(depth)
        compared = False
        while (op := self.infix()) is not None and _INFIX[op] > min_power:
            token = self.advance()
            if op == "not in":
                self.advance()
            power = _INFIX[op]
            if power == _COMPARE and compared:
                message = (
                    f"comparisons cannot be chained ('{op}' at column {_column(token.offset)}); "
                    "write 'a < b and b < c' instead"
                )
                raise ExpressionError(message, token.offset)
            right = self.expression(power, depth + 1)
            left = self.binary(op, left, right, token.offset)
            compared = power == _COMPARE
        return left

    def prefix(self, depth: int) -> _Node:
        previous = self.tokens[self.pos - 1] if self.pos else None
        token = self.advance()
        if token.kind in ("number", "string"):
            return _Const(token.value, token.offset)
        if token.kind == "name" and token.text not in ("and", "or", "in"):
            if token.text in _LITERALS:
                return _Const(_LITERALS[token.text], token.offset)
            if token.text == "not":
                return self.fold(_Not(self.expression(_NOT, depth + 1), token.offset))
            if self.at_op("("):
                return self.call(token, depth)
            return self.reference(token)
        if token.kind == "op" and token.text == "-":
            return self.fold(_Neg(self.expression(_UNARY, depth + 1), token.offset))
        if token.kind == "op" and token.text == "(":
            inner = self.expression(0, depth + 1)
            self.close(")", token)
            return inner
        if token.kind == "op" and token.text == "[":
            return self.list_literal(token, depth)
        raise self.expected_value(token, previous)

    def binary(self, op: str, left: _Node, right: _Node, offset: int) -> _Node:
        node: _Node
        if op in ("and", "or"):
            if isinstance(left, _Logic) and left.op == op:
                left.operands.append(right)
                return self.grown(left, right)
            node = _Logic(op, [left, right], offset)
        elif op in _ARITHMETIC:
            if isinstance(left, _Arith) and _INFIX[left.rest[0][0]] == _INFIX[op]:
                left.rest.append((op, right, offset))
                return self.grown(left, right)
            node = _Arith(left, [(op, right, offset)], offset)
        elif op in ("in", "not in"):
            node = _Member(op == "not in", left, right, offset)
        else:
            node = _Compare(op, left, right, offset)
        return self.fold(node)

    def grown(self, chain: _Node, operand: _Node) -> _Node:
        """A flat chain that took one more operand; it was not constant, so it still is not."""
        chain.depth = max(chain.depth, operand.depth + 1)
        if chain.depth > MAX_DEPTH:
            raise self.too_deep(operand.offset)
        return chain

    def reference(self, token: _Token) -> _Node:
        name = token.text
        if name not in ROOT_NAMES:
            raise self.unknown_name(token)
        path = [name]
        while self.at_op("."):
            self.advance()
            field = self.advance()
            if field.kind != "name":
                message = f"expected a field name after '.' at column {_column(field.offset)}"
                raise ExpressionError(message, field.offset)
            path.append(field.text)
        if len(path) > 1 and name in ("now", "today"):
            raise ExpressionError(f"'{name}' has no fields; remove '.{path[1]}'", token.offset)
        if self.at_op("("):
            dotted, last = ".".join(path), path[-1]
            if len(path) > 1 and last in FUNCTIONS:
                message = f"write {last}({'.'.join(path[:-1])}) instead of {dotted}()"
            else:
                message = f"'{dotted}' is not a function"
            raise ExpressionError(message, token.offset)
        reference = Reference(tuple(path), token.offset)
        self.references.append(reference)
        return _Ref(reference.path, token.offset)

    def call(self, token: _Token, depth: int) -> _Node:
        name = token.text
        if name not in FUNCTIONS:
            raise self.unknown_function(token)
        opening = self.advance()
        arguments: list[_Node] = []
        if not self.at_op(")"):
            arguments.append(self.expression(0, depth + 1))
            while self.at_op(","):
                self.advance()
                arguments.append(self.expression(0, depth + 1))
        self.close(")", opening)
        if len(arguments) != 1:
            message = (
                f"{name}() takes exactly one value, for example {_EXAMPLES[name]}; "
                f"got {len(arguments)}"
            )
            raise ExpressionError(message, token.offset)
        return self.fold(_Call(name, arguments[0], token.offset))

    def list_literal(self, opening: _Token, depth: int) -> _Node:
        items: list[_Node] = []
        while not self.at_op("]"):
            items.append(self.expression(0, depth + 1))
            if not self.at_op(","):
                break
            self.advance()
        self.close("]", opening, separated=True)
        return self.fold(_List(tuple(items), opening.offset))

    def close(self, closer: str, opening: _Token, *, separated: bool = False) -> None:
        token = self.peek()
        if token.kind == "op" and token.text == closer:
            self.advance()
            return
        column = _column(token.offset)
        if token.kind == "end":
            message = (
                f"missing '{closer}' to close '{opening.text}' at column {_column(opening.offset)}"
            )
            raise ExpressionError(message, opening.offset)
        if token.kind == "op" and token.text in (")", "]"):
            message = (
                f"expected '{closer}' at column {column} to close '{opening.text}' "
                f"at column {_column(opening.offset)}, but found '{token.text}'"
            )
            raise ExpressionError(message, token.offset)
        if separated and self.starts_value(token):
            raise ExpressionError(
                f"missing ',' before '{token.text}' at column {column}", token.offset
            )
        raise self.unexpected(token)

    # -- errors

    @staticmethod
    def starts_value(token: _Token) -> bool:
        if token.kind in ("number", "string"):
            return True
        if token.kind == "name":
            return token.text not in ("and", "or", "in")
        return token.kind == "op" and token.text in ("(", "[")

    def unexpected(self, token: _Token) -> ExpressionError:
        """A token where an operator or the end was expected."""
        column, text = _column(token.offset), token.text
        if token.kind == "op" and text in (")", "]"):
            opener = "(" if text == ")" else "["
            message = (
                f"unmatched '{text}' at column {column}; remove it or add '{opener}' before it"
            )
        elif (
            token.kind == "name"
            and text.lower() in ("and", "or", "not", "in")
            and text != text.lower()
        ):
            message = f"write '{text}' in lower case ('{text.lower()}') at column {column}"
        elif token.kind == "name" and text == "is":
            message = f"'is' is not an operator (column {column}); use '==' or '!='"
        elif token.kind == "name" and text == "not":
            message = f"unexpected 'not' at column {column}; did you mean 'not in'?"
        elif self.starts_value(token):
            message = (
                f"missing operator before '{text}' at column {column}; "
                "join conditions with 'and' or 'or'"
            )
        else:
            message = f"unexpected '{text}' at column {column}"
        return ExpressionError(message, token.offset)

    def expected_value(self, token: _Token, previous: _Token | None) -> ExpressionError:
        column = _column(token.offset)
        where = f"after '{previous.text}' at column {column}" if previous else f"at column {column}"
        message = f"expected a value {where}"
        if token.kind != "end":
            message += f" but found '{token.text}'"
        if token.kind == "op" and token.text == "." and self.peek().kind == "number":
            message += f"; write 0.{self.peek().text} rather than .{self.peek().text}"
        return ExpressionError(message, token.offset)

    def unknown_name(self, token: _Token) -> ExpressionError:
        name, lower = token.text, token.text.lower()
        if name in _NAME_HINTS:
            message = f"unknown name '{name}'; use '{_NAME_HINTS[name]}'"
        elif lower != name and lower in ROOT_NAMES | _KEYWORDS:
            message = f"unknown name '{name}'; write it in lower case: '{lower}'"
        elif name in FUNCTIONS:
            message = f"'{name}' is a function; call it as {_EXAMPLES[name]}"
        elif close := difflib.get_close_matches(name, sorted(ROOT_NAMES | set(_LITERALS)), n=1):
            message = f"unknown name '{name}'; did you mean '{close[0]}'?"
        else:
            message = (
                f"unknown name '{name}'; write a customer field as customer.{name} "
                f"and entry data as data.{name}"
            )
        return ExpressionError(message, token.offset)

    def unknown_function(self, token: _Token) -> ExpressionError:
        name, lower = token.text, token.text.lower()
        if name in ROOT_NAMES or name in _KEYWORDS:
            message = f"'{name}' is not a function"
        elif lower in FUNCTIONS:
            message = f"unknown function '{name}'; write it in lower case: '{lower}'"
        elif close := difflib.get_close_matches(name, sorted(FUNCTIONS), n=1):
            message = f"unknown function '{name}'; did you mean '{close[0]}'?"
        else:
            message = f"unknown function '{name}'; the functions are {', '.join(sorted(FUNCTIONS))}"
        return ExpressionError(message, token.offset)

    @staticmethod
    def too_deep(offset: int) -> ExpressionError:
        message = (
            f"expression is nested too deeply at column {_column(offset)} "
            f"(more than {MAX_DEPTH} levels); split it into simpler conditions"
        )
        return ExpressionError(message, offset)

    def fold(self, node: _Node) -> _Node:
        """Check the nesting and replace a constant node by its value (errors surface now)."""
        if node.depth > MAX_DEPTH:
            raise self.too_deep(node.offset)
        if not node.is_constant():
            return node
        try:
            return _Const(node.compile()({}), node.offset)
        except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:
            raise ExpressionError(f"cannot work out the value here: {exc}", node.offset) from exc


# ---------------------------------------------------------------------------------------------


class Expression:
    """A parsed, checked and compiled expression; equal to another with the same source."""

    __slots__ = ("_fn", "_references", "source")

    source: str
    _fn: _Fn
    _references: tuple[Reference, ...]

    def __init__(self, source: str) -> None:
        if not isinstance(source, str):
            raise ExpressionError(f"an expression must be text, not {_describe(source)}")
        if len(source) > MAX_LENGTH:
            message = (
                f"expression is too long ({len(source):,} characters; at most {MAX_LENGTH:,}); "
                "split it into simpler conditions"
            )
            raise ExpressionError(message, MAX_LENGTH)
        parser = _Parser(_tokenize(source))
        self.source = source
        self._fn = parser.parse().compile()
        self._references = tuple(parser.references)

    @classmethod
    def parse(cls, source: str) -> Expression:
        """Parse and check ``source``; raises ExpressionError with the offset of the problem."""
        return cls(source)

    @property
    def references(self) -> tuple[Reference, ...]:
        """Every ``customer``, ``data``, ``now`` and ``today`` reference, in source order."""
        return self._references

    def evaluate(self, scope: Scope) -> Any:
        """The value for ``scope`` (keys ``customer``, ``data``, ``now``, ``today``)."""
        try:
            return self._fn(scope)
        except ExpressionError:
            raise
        except Exception as exc:
            raise self._failure(exc) from exc

    def test(self, scope: Scope) -> bool:
        """Whether the value for ``scope`` is true (null is false)."""
        try:
            return bool(self._fn(scope))
        except ExpressionError:
            raise
        except Exception as exc:
            raise self._failure(exc) from exc

    def _failure(self, exc: Exception) -> ExpressionError:
        if isinstance(exc, RecursionError):
            return ExpressionError(f"the values are nested too deeply to evaluate {self.source!r}")
        name = type(exc).__name__
        return ExpressionError(
            f"could not evaluate {self.source!r}: internal error ({name}: {exc})"
        )

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expression):
            return NotImplemented
        return self.source == other.source

    def __hash__(self) -> int:
        return hash(self.source)

    def __reduce__(self) -> tuple[type[Expression], tuple[str]]:
        return (Expression, (self.source,))
