"""The functions an expression may call (``days_since``, ``lower``, ``exists``, ...): each takes
the argument's value, the scope and the call's offset."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from engine.errors import ExpressionError
from engine.model.expressions.values import Scope, _describe, _same_awareness, _temporal

_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)


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
