"""How long a text may be, the same on every database: PostgreSQL refuses index entries over
about 2.7 KB and SQLite takes anything, so the limits are checked here, before a row is
written, and a caller hears which field is too long (docs/limits.md lists them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import InputError

MAX_EXTERNAL_ID = 200
MAX_EMAIL = 320
MAX_EVENT_ID = 200
MAX_RECORD_KEY = 500
MAX_TEXT = 10_000  # any other text field of a customer or a record

# fields stored in columns of their own (the rest of a customer or record is JSON)
CUSTOMER_LIMITS: Mapping[str, int] = {
    "external_id": MAX_EXTERNAL_ID,
    "email": MAX_EMAIL,
    "timezone": MAX_EXTERNAL_ID,
}


def check_length(field: str, value: Any, limit: int) -> None:
    """``InputError`` when ``value`` is text longer than ``limit`` characters."""
    if type(value) is str and len(value) > limit:
        raise InputError(
            f"field '{field}' holds {len(value)} characters; at most {limit} are stored"
        )


def check_column_text(field: str, value: Any) -> None:
    """``InputError`` when text stored in a column of its own holds NUL, which PostgreSQL's
    text columns refuse (SQLite's take it): refused on both, so both hold the same."""
    if type(value) is str and "\x00" in value:
        raise InputError(f"field '{field}' holds a NUL character (\\u0000); remove it")


def check_lengths(row: Mapping[str, Any], limits: Mapping[str, int]) -> None:
    """``check_length`` for every field of a typed row (``MAX_TEXT`` unless ``limits`` says)."""
    for name, value in row.items():
        if type(value) is str and len(value) > MAX_TEXT // 2:  # quick: most texts are short
            check_length(name, value, limits.get(name, MAX_TEXT))
        elif name in limits:
            check_length(name, value, limits[name])
        if name in limits:
            check_column_text(name, value)


def column_faults(
    typed: Mapping[str, list[Any]], faults: Mapping[str, dict[int, str]], limits: Mapping[str, int]
) -> None:
    """``check_lengths`` for CSV columns (``typed`` column by column): each row whose value in
    a column of ``limits`` is too long, or holds NUL, gets its reason in ``faults``."""
    for name, limit in limits.items():
        failed = faults.get(name)
        values = typed.get(name)
        if values is None or failed is None:
            continue
        for index, value in enumerate(values):
            if type(value) is str and index not in failed:
                try:
                    check_length(name, value, limit)
                    check_column_text(name, value)
                except InputError as exc:
                    failed[index] = str(exc)
