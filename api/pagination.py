"""Cursor pagination: a page ends with an opaque cursor naming the last item's place in the
order (``id``, or ``at`` and ``id``); the next request passes it back and reads on after it.
Keyset reads stay fast at any depth and never skip or repeat an item added meanwhile."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Query

from api.errors import field_problem
from api.models import MAX_ID

T = TypeVar("T")

LimitQuery = Annotated[int, Query(ge=1, le=1000, description="items per page")]
CursorQuery = Annotated[
    str | None, Query(max_length=200, description="the `next` of the previous page")
]


def encode(*values: Any) -> str:
    """An opaque cursor for the place ``values`` (datetimes as ISO text)."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, *kinds: type) -> list[Any] | None:
    """The place of a cursor, checked against the expected kinds (int, datetime); None for no
    cursor; a 422 on ``query.cursor`` for one this API did not give."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("wrong shape")
        place: list[Any] = []
        for value, kind in zip(values, kinds, strict=True):
            if kind is datetime and isinstance(value, str):
                at = datetime.fromisoformat(value)
                at.astimezone(UTC)  # stored times are UTC: one past its years is no place
                place.append(at)
            elif kind is int and type(value) is int and 0 <= value <= MAX_ID:
                place.append(value)
            else:
                raise ValueError("wrong kind")
        return place
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise field_problem(
            ("query", "cursor"),
            "not a cursor of this list; pass the `next` of the previous page as it was",
        ) from None


def page(
    rows: list[T], limit: int, place: Callable[[T], tuple[Any, ...]]
) -> tuple[list[T], str | None]:
    """Split ``limit + 1`` fetched rows into the page and the cursor of the next one (None
    when this is the last page)."""
    if len(rows) <= limit:
        return rows, None
    shown = rows[:limit]
    return shown, encode(*place(shown[-1]))
