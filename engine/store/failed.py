"""Failed journeys in SQL: finding them (failed where they stand, or ended through an
unrouted ``failed`` output) and putting them back at the object where they failed."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection

from engine.model.retries import TRIES_KEY
from engine.store.models import JOURNEYS
from engine.store.raw import (
    among,
    encoder,
    fetch,
    json_value,
    marks,
    one_of,
    placeholders,
    time_param,
    time_value,
    update_rows,
)

J = JOURNEYS
JC = J.c


class FailedJourney(NamedTuple):
    id: int
    customer_id: int
    object: str
    at: datetime | None  # when it failed (its last step)
    reason: str | None


_LAST_STEP = (
    "SELECT {column} FROM steps s WHERE s.journey_id = j.id ORDER BY s.at DESC, s.id DESC LIMIT 1"
)


def find_failed(
    conn: Connection,
    flow: str,
    *,
    unrouted: Collection[str],
    object_id: str | None = None,
    since: datetime | None = None,
    customer_ids: Collection[int] | None = None,
    journey_ids: Sequence[int] | None = None,
) -> list[FailedJourney]:
    """Journeys of ``flow`` that failed, or that ended at one of the ``unrouted`` objects
    through its (unmapped) ``failed`` output; optionally only at ``object_id``, failed at or
    after ``since``, of ``customer_ids``, among ``journey_ids``."""
    last_at = _LAST_STEP.format(column="s.at")
    last_output = _LAST_STEP.format(column="s.output")
    last_reason = _LAST_STEP.format(column="s.reason")
    ended = (
        f" OR (j.state = 'finished' AND j.object IN ({marks(len(unrouted))}) "
        f"AND ({last_output}) = 'failed')"
        if unrouted
        else ""
    )
    statement = (
        f"SELECT j.id, j.customer_id, j.object, ({last_at}), ({last_reason}) FROM journeys j "
        f"WHERE j.flow = ? AND (j.state = 'failed'{ended})"
    )
    params: list[object] = [flow, *unrouted]
    if object_id is not None:
        statement += " AND j.object = ?"
        params.append(object_id)
    if journey_ids is not None:
        if not journey_ids:
            return []
        condition, values = one_of(conn, "j.id", list(journey_ids))
        statement += f" AND {condition}"
        params.append(values)
    found = [
        FailedJourney(r[0], r[1], r[2], time_value(r[3]), r[4])
        for r in fetch(conn, statement + " ORDER BY j.id", params)
    ]
    if since is not None:
        found = [f for f in found if f.at is not None and f.at >= since]
    if customer_ids is not None:
        wanted = set(customer_ids)
        found = [f for f in found if f.customer_id in wanted]
    return found


def put_back(conn: Connection, ids: Sequence[int], now: datetime) -> None:
    """Make journeys active again, ready now, at the object where they stand (since when
    they arrived there: a wait counts from then); the tries an object counted for them start
    over (those kept with the journey, and a mail's in the send log)."""
    at = time_param(conn, now)
    encode = encoder(conn, JC.data)
    for condition, params in among(conn, "id", ids):
        statement = (
            "UPDATE journeys SET state = 'active', ready_at = ?, "
            f"claim_id = NULL, wake_on = NULL, release_id = NULL WHERE {condition}"
        )
        conn.exec_driver_sql(placeholders(conn, statement), (at, *params))
        changed = []
        for jid, raw in fetch(conn, f"SELECT id, data FROM journeys WHERE {condition}", params):
            data = json_value(raw) or {}
            if TRIES_KEY in data:
                data.pop(TRIES_KEY)
                changed.append((encode(data), jid))
        if changed:
            update_rows(conn, J, ("data",), "id", changed)
    for condition, params in among(conn, "journey_id", ids):  # a mail's tries: the send log
        statement = (
            f"UPDATE send_log SET attempts = 0 WHERE state IN ('failed', 'refused') AND {condition}"
        )
        conn.exec_driver_sql(placeholders(conn, statement), tuple(params))
