"""Field types of customer profiles and datamodel collections, and conversion between the forms
a value takes: text from CSV, JSON from payloads and storage, and Python values for expressions
and templates."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from engine.model.project import Project

FieldType = Literal["str", "int", "float", "decimal", "bool", "date", "datetime"]
FIELD_TYPES: tuple[str, ...] = ("str", "int", "float", "decimal", "bool", "date", "datetime")

# built-in customer fields a caller may write, with their types
WRITABLE_BUILTINS: dict[str, str] = {
    "external_id": "str",
    "email": "str",
    "timezone": "str",
    "unsubscribed": "bool",
    "bounced": "str",
}
KEYS = ("external_id", "email", "system_id")  # the fields that identify a customer

_PLAIN = frozenset({str, int, float, bool})
_TRUE = {"true", "yes", "1", "y", "ja", "j"}
_FALSE = {"false", "no", "0", "n", "nee"}


def customer_label(customer: Mapping[str, Any]) -> str:
    """How sluis names a customer to people and in replay's effects (DESIGN.md section 9):
    the external_id, else the e-mail address. A customer with neither (both cleared since)
    goes by its system_id."""
    label = customer.get("external_id") or customer.get("email") or customer.get("system_id")
    return "" if label is None else str(label)


def convert(value: Any, kind: str) -> Any:
    """Turn ``value`` (text, JSON or Python) into the Python value of field type ``kind``.
    Empty text and ``None`` become ``None``. Raise ``ValueError`` with a readable reason."""
    if kind == "str" and type(value) is str:  # the common case of CSV imports, kept quick
        return value if value.strip() else None
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    step = _CONVERTERS.get(kind)
    if step is None:
        raise ValueError(f"unknown field type '{kind}'; use one of {', '.join(FIELD_TYPES)}")
    return step(value)


def _to_str(value: Any) -> str:
    if isinstance(value, dict | list):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return str(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"expected a number, got {value!r}") from None
    if not math.isfinite(result):
        raise ValueError(f"expected a finite number, got {value!r}")
    return result


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool | float):
        value = repr(value) if isinstance(value, float) else value
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, TypeError):
        raise ValueError(f"expected a decimal number such as 12.50, got {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"expected a finite decimal number, got {value!r}")
    return result


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, got {value!r}")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    else:
        try:
            result = int(str(value).strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
    if not -(2**63) <= result < 2**63:  # what every database stores as an integer
        raise ValueError(f"{result} is out of range; whole numbers fit in 64 bits (±9.2e18)")
    return result


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"expected a date such as 2026-01-31, got {value!r}") from None


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            result = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"expected a date and time such as 2026-01-31T09:30:00+01:00, got {value!r}"
            ) from None
    result = result if result.tzinfo else result.replace(tzinfo=UTC)
    try:
        result.astimezone(UTC)  # times are stored in UTC: years 1 to 9999 there
    except OverflowError:
        raise ValueError(f"{value!r} is out of range: in UTC it is outside years 1-9999") from None
    return result


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "str": _to_str,
    "bool": _to_bool,
    "int": _to_int,
    "float": _to_float,
    "decimal": _to_decimal,
    "date": _to_date,
    "datetime": _to_datetime,
}


def to_json(value: Any) -> Any:
    """The JSON form of a Python field value (dates as ISO text, decimals as text)."""
    if value is None or type(value) in _PLAIN:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def field_types(project: Project) -> dict[str, str]:
    """Every writable customer field with its type."""
    return {**WRITABLE_BUILTINS, **project.settings.profile}
