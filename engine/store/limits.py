"""Rate limits that hold across workers: a token bucket per (flow, object) in the database.

The bucket fills at ``rate`` tokens a second up to ``capacity``; every request takes one. A
process takes tokens in chunks (``take``), so the database sees a few statements a second,
not one per request. One ``UPDATE ... RETURNING`` refills the bucket from the time stored
with it, hands out what is there (up to what was asked) and stores the rest, all from the
row's old values: on PostgreSQL the row lock orders concurrent takers, on SQLite the write
lock of ``BEGIN IMMEDIATE`` does. Time is the caller's clock (the runtime's, so replay's
virtual clock works); a clock behind the stored time refills nothing and never moves it back,
so a worker whose clock lags a little cannot hand out tokens twice. A stored time more than
``SKEW`` seconds ahead is taken as a clock gone wrong and replaced by the caller's, rather than
leaving every other worker waiting until their clocks catch up.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Float, Integer, bindparam, case, cast, func, literal, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from engine.errors import StoreError
from engine.store import Database
from engine.store.models import RATE_BUCKETS
from engine.store.raw import insert_ignore

BUCKETS = RATE_BUCKETS
SKEW = 5.0  # seconds workers' clocks may differ before the stored time is replaced


def take(
    db: Database,
    flow: str,
    object_id: str,
    *,
    rate: float,
    capacity: float,
    wanted: int,
    now: float,
) -> tuple[int, float]:
    """Take up to ``wanted`` tokens at ``now`` (seconds since 1970). Returns how many were
    granted and, for a caller that got fewer than it wanted, when the bucket holds what it
    asked for (at most ``capacity``) again, if nobody else takes them first."""
    statement = _take_statement(db.dialect)
    params = {
        "b_flow": flow,
        "b_object": object_id,
        "b_now": now,
        "b_rate": rate,
        "b_capacity": capacity,
        "b_wanted": float(wanted),
    }
    try:
        with db.write() as conn:
            row = conn.execute(statement, params).first()
            if row is None:  # the first take of this object: a full bucket
                full = {"flow": flow, "object": object_id, "tokens": capacity, "at": now}
                insert_ignore(conn, BUCKETS, [{**full, "taken": 0.0}])
                row = conn.execute(statement, params).first()
    except SQLAlchemyError as exc:
        raise StoreError(
            f"object '{object_id}' of flow '{flow}': cannot take rate-limit tokens: {exc}"
        ) from exc
    assert row is not None
    left, at_now = float(row.tokens), float(row.at)
    return int(row.taken), at_now + max(0.0, min(wanted, capacity) - left) / rate


@cache
def _take_statement(dialect: str) -> Any:
    """The ``UPDATE ... RETURNING`` of ``take``, built once per database kind (building it
    cost more than running it), its values bound as ``b_*`` parameters."""
    now = bindparam("b_now", type_=Float)
    rate = bindparam("b_rate", type_=Float)
    capacity = bindparam("b_capacity", type_=Float)
    # the stored time, or ours when it is too far ahead to come from a clock in step with ours
    at = case((BUCKETS.c.at > now + SKEW, now), else_=BUCKETS.c.at)
    refilled = _least(capacity, BUCKETS.c.tokens + _greatest(literal(0.0), now - at) * rate)
    # whole tokens: PostgreSQL rounds when it casts to an integer, SQLite truncates (the floor,
    # as ``refilled`` is never negative) and may be built without floor()
    whole: ColumnElement[Any] = (
        func.floor(refilled) if dialect == "postgresql" else cast(refilled, Integer)
    )
    granted = _least(bindparam("b_wanted", type_=Float), whole)
    return (
        update(BUCKETS)
        .where(BUCKETS.c.flow == bindparam("b_flow"), BUCKETS.c.object == bindparam("b_object"))
        .values(taken=granted, tokens=refilled - granted, at=_greatest(at, now))
        .returning(BUCKETS.c.taken, BUCKETS.c.tokens, BUCKETS.c.at)
    )


def _least(a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((a < b, a), else_=b)  # LEAST on PostgreSQL is min() on SQLite: write it out


def _greatest(a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((a > b, a), else_=b)
