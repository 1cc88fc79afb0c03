"""Percent shares: where a customer falls in a percent split, the same in every run and on
every path (DESIGN.md section 8: percent splits hash (flow, object, customer)).

A customer's *point* is a number in [0, 100) taken from the SHA-256 of the flow, the object and
the customer's system_id. The database reaches the same answer without floating point: the
first 8 bytes of the hash as 16 hex digits (``share_key``) compare like the numbers they spell,
and ``key_below`` gives, for a share's upper edge, the first key whose point reaches it."""

from __future__ import annotations

import hashlib

_SPAN = 2**64  # the first 8 bytes of the hash


def share_prefix(flow: str, object_id: str) -> bytes:
    """What the hash reads before the customer's system_id."""
    return f"{flow}\x00{object_id}\x00".encode()


def _number(flow: str, object_id: str, customer_id: int) -> int:
    digest = hashlib.sha256(share_prefix(flow, object_id) + str(customer_id).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _point(number: int) -> float:
    return number / _SPAN * 100


def percent_point(flow: str, object_id: str, customer_id: int) -> float:
    """A stable number in [0, 100) for (flow, object, customer): the same in every run."""
    return _point(_number(flow, object_id, customer_id))


def share_key(flow: str, object_id: str, customer_id: int) -> str:
    """The customer's hash as 16 hex digits: keys order as their points do."""
    return f"{_number(flow, object_id, customer_id):016x}"


def key_below(edge: float) -> str | None:
    """The smallest key whose point is not below ``edge``: a point is below the edge exactly
    when its key sorts before this one. None when every point is below it; ``""`` when none
    is (no key sorts before the empty text)."""
    if _point(0) >= edge:
        return ""
    if _point(_SPAN - 1) < edge:
        return None
    low, high = 0, _SPAN - 1  # _point(low) < edge <= _point(high); points never decrease
    while high - low > 1:
        middle = (low + high) // 2
        if _point(middle) < edge:
            low = middle
        else:
            high = middle
    return f"{high:016x}"
