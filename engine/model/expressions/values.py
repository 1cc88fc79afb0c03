"""Values in expressions: how they are described in messages, compared for equality and
order, tested for membership, and combined by arithmetic (the null and type rules of the
package docstring)."""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any

from engine.errors import ExpressionError

Scope = Mapping[str, Any]
_Fn = Callable[[Scope], Any]

# Decimal arithmetic runs in its own context so a caller's thread context cannot change results.
_DECIMAL = Context(prec=28, traps=[InvalidOperation, DivisionByZero, Overflow])


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
