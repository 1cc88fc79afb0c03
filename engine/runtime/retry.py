"""Failed journeys run again (``sluis retry``, the API, the TUI): each goes back to the
object where it failed, ready now, with its tries there starting over. So do journeys that
ended through an object's unrouted ``failed`` output; a mapped ``failed`` output is the
marketer's own route and is left alone (DESIGN.md 8)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection

from engine.model.flow import Flow
from engine.store import Store
from engine.store.events import EventRecord, add_events
from engine.store.failed import FailedJourney, find_failed, put_back


def unrouted_failed(flow: Flow) -> list[str]:
    """The objects of ``flow`` whose ``failed`` output is not mapped: journeys end there."""
    return [
        oid
        for oid, spec in flow.objects.items()
        if "failed" in spec.outputs and flow.target(oid, "failed") is None
    ]


def failed_journeys(
    conn: Connection,
    flow: Flow,
    *,
    object_id: str | None = None,
    since: datetime | None = None,
    customer_ids: Collection[int] | None = None,
) -> list[FailedJourney]:
    """The journeys of ``flow`` that a retry would put back."""
    return find_failed(
        conn,
        flow.name,
        unrouted=unrouted_failed(flow),
        object_id=object_id,
        since=since,
        customer_ids=customer_ids,
    )


def retry_failed(
    store: Store,
    flow: Flow,
    now: datetime,
    *,
    object_id: str | None = None,
    since: datetime | None = None,
    customer_ids: Collection[int] | None = None,
) -> Counter[str]:
    """Put the failed journeys of ``flow`` back where they failed (optionally only at
    ``object_id``, failed at or after ``since``, of ``customer_ids``); returns how many per
    object. Each gets a ``retried`` event. The flow's workers take them from there."""
    with store.db.write() as conn:
        found = retry_in(
            conn, flow, now, object_id=object_id, since=since, customer_ids=customer_ids
        )
    return Counter(f.object for f in found)


def retry_in(
    conn: Connection,
    flow: Flow,
    now: datetime,
    *,
    object_id: str | None = None,
    since: datetime | None = None,
    customer_ids: Collection[int] | None = None,
    journey_ids: Sequence[int] | None = None,
) -> list[FailedJourney]:
    """``retry_failed`` in the caller's transaction; ``journey_ids`` narrows it to those
    journeys (a webhook's redelivery retries the journey its first delivery made)."""
    found = find_failed(
        conn,
        flow.name,
        unrouted=unrouted_failed(flow),
        object_id=object_id,
        since=since,
        customer_ids=customer_ids,
        journey_ids=journey_ids,
    )
    put_back(conn, [f.id for f in found], now)
    add_events(
        conn,
        [
            EventRecord(
                "retried", now, f.customer_id, flow.name, f.object, f.id, {"reason": f.reason}
            )
            for f in found
        ],
    )
    return found


def since_moment(text: str, now: datetime) -> datetime:
    """``--since``: an ISO date or time (UTC when it names no offset), or a duration back
    from now (``2h``: failed in the last two hours)."""
    from engine.errors import InputError
    from engine.model.durations import parse_duration

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            return now - parse_duration(text)
        except ValueError:
            raise InputError(
                f"--since '{text}' is not a time such as 2026-12-07T09:00, a date such as "
                "2026-12-07, or a duration back from now such as 2h"
            ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
