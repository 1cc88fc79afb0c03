"""Journeys in SQL: entering, claiming ready batches under a lease, applying a batch's routing,
and waking journeys on events. Every function works on sets of journeys at once."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, insert, or_, select, update

from engine.store.bulk import insert_many
from engine.store.events import add_events as add_events  # objects import it from here
from engine.store.models import CLAIMS, JOURNEYS, STEPS
from engine.store.raw import (
    allocate_ids,
    among,
    encoder,
    fetch,
    insert_rows,
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


@dataclass(frozen=True)
class NewJourney:
    """A journey to create: the customer, where it stands after its first step, and the step."""

    customer_id: int
    data: Mapping[str, Any]
    via: str
    reason: str
    output: str | None
    target: str | None  # None: the journey ends at its start object


class _Lapsed(NamedTuple):
    id: int
    flow: str
    object: str
    attempts: int
    error: str | None
    version: int


class _Head(NamedTuple):
    id: int
    flow: str
    object: str
    release_id: int | None
    version: int


@dataclass(frozen=True)
class ClaimedBatch:
    """A claimed batch: its journeys' rows, or, for a claim of everything waiting at an object
    (a bucket) and for a claim taken over, only their ids in order of arrival, to be read a
    slice at a time with ``claimed_rows`` (a million journeys need not sit in memory at once)."""

    claim_id: int
    flow: str
    object: str
    rows: list[ClaimedRow]
    ids: Sequence[int] = ()
    attempts: int = 1  # runs of this batch begun, this one included
    error: str | None = None  # the one-line message of its last failed run
    version: int = 0  # the flow version its journeys run on (0: the running one)


class TakenBatch(NamedTuple):
    """A ready batch taken to pass wholly in the transaction that took it (no claim, no
    lease: if that transaction does not commit, its journeys were never taken)."""

    flow: str
    object: str
    version: int
    ids: Sequence[int]


def reentry_blocked(
    conn: Connection, flow: str, reentry: str, customer_ids: Sequence[int]
) -> set[int]:
    """Customers who may not enter ``flow`` now under its reentry rule.

    One statement for all of them. The state is checked here, not in SQL: with ``state`` in
    the WHERE clause SQLite (without statistics) walks every active journey through
    ``ix_journeys_ready`` instead of looking the customers up in ``ix_journeys_customer``."""
    if reentry == "always" or not customer_ids:
        return set()
    condition, values = one_of(conn, "customer_id", customer_ids)
    statement = f"SELECT customer_id, state FROM journeys WHERE flow = ? AND {condition}"
    rows = fetch(conn, statement, (flow, values))
    if reentry == "after-exit":
        return {customer for customer, state in rows if state == "active"}
    return {customer for customer, _ in rows}


def enter(
    conn: Connection,
    flow: str,
    start: str,
    journeys: Sequence[NewJourney],
    now: datetime,
    version: int = 0,
) -> list[int]:
    """Create journeys on ``version`` of the flow with their first step at the start object;
    return their ids."""
    if not journeys:
        return []
    ids = allocate_ids(conn, "journeys", "id", len(journeys))
    insert_many(
        conn,
        J,
        [
            {
                "id": jid,
                "customer_id": j.customer_id,
                "object": j.target or start,
                "state": "active" if j.target else "finished",
                "ready_at": now if j.target else None,
                "via": j.via,
                "data": dict(j.data),
            }
            for jid, j in zip(ids, journeys, strict=True)
        ],
        {"flow": flow, "entered_at": now, "arrived_at": now, "version": version},
    )
    insert_many(
        conn,
        STEPS,
        [
            {"journey_id": jid, "output": j.output, "reason": j.reason}
            for jid, j in zip(ids, journeys, strict=True)
        ],
        {"flow": flow, "object": start, "at": now},
    )
    return ids


def claim(
    conn: Connection,
    *,
    owner: str,
    flows: Sequence[str],
    claims_all: Mapping[str, set[str]],
    now: datetime,
    lease: timedelta,
    size: int,
    in_place: Callable[[str, str, int], bool] | None = None,
    in_place_size: int | None = None,
) -> ClaimedBatch | TakenBatch | None:
    """Take the next ready batch under a lease: first a batch whose lease lapsed (its worker
    died), else the journeys ready longest at one object. ``claims_all`` names, per flow, the
    objects that take every journey waiting there (buckets). A batch at an object for which
    ``in_place(flow, object, version)`` holds is only taken (locked, on PostgreSQL), to pass
    in the caller's transaction: ``in_place_size`` journeys at most (``size`` unless given)."""
    if not flows:
        return None
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        # a claim lost in a server crash only leaves journeys unclaimed: no need to wait for
        # the disk (routing commits do wait)
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    at, in_flows = time_param(conn, now), f"flow IN ({marks(len(flows))})"
    found = fetch(
        conn,
        f"SELECT id, flow, object, attempts, error, version FROM claims WHERE lease_until < ? "
        f"AND {in_flows} "
        f"ORDER BY id LIMIT 1{lock}",
        [at, *flows],
    )
    lapsed = _Lapsed(*found[0]) if found else None
    if lapsed is not None:
        conn.execute(
            update(CLAIMS)
            .where(CLAIMS.c.id == lapsed.id)
            .values(owner=owner, lease_until=now + lease, attempts=lapsed.attempts + 1)
        )
        taken = claimed_ids(conn, lapsed.id)
        return ClaimedBatch(
            lapsed.id,
            lapsed.flow,
            lapsed.object,
            [],
            array("q", taken),
            lapsed.attempts + 1,
            lapsed.error,
            lapsed.version,
        )
    ready = f"state = 'active' AND ready_at <= ? AND claim_id IS NULL AND {in_flows}"
    busy = _busy_buckets(conn, flows, claims_all)
    while True:
        skip = "".join(" AND NOT (flow = ? AND object = ?)" for _ in busy)
        heads = fetch(
            conn,
            f"SELECT id, flow, object, release_id, version FROM journeys WHERE {ready}{skip} "
            f"ORDER BY ready_at, id LIMIT 1{lock}",
            [at, *flows, *(part for pair in busy for part in pair)],
        )
        if not heads:
            return None
        head = _Head(*heads[0])
        whole = head.object in claims_all.get(head.flow, set())
        if not whole or _bucket_free(conn, head.flow, head.object):
            break
        busy.append((head.flow, head.object))  # another worker decides it: look further
    # one version at a time: while an older version drains, its journeys run on it
    here = (
        "SELECT id FROM journeys WHERE flow = ? AND object = ? AND version = ? "
        "AND claim_id IS NULL AND"
    )
    spot = [head.flow, head.object, head.version]
    passes = not whole and in_place is not None and in_place(head.flow, head.object, head.version)
    if passes and in_place_size is not None:
        size = in_place_size
    if whole:
        query = f"{here} state = 'active' ORDER BY arrived_at, customer_id, id{lock}"
        params: list[Any] = spot
    elif head.release_id is not None:
        query = f"{here} {ready} AND release_id = ?{lock}"
        params = [*spot, at, *flows, head.release_id]
    else:
        query = f"{here} {ready} AND release_id IS NULL ORDER BY ready_at, id LIMIT ?{lock}"
        params = [*spot, at, *flows, size]
    ids = array("q", (i for (i,) in fetch(conn, query, params)))
    if not ids:
        return None
    if passes:
        if postgres:  # the passage commits with the taking: that commit waits for the disk
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO ON")
        return TakenBatch(head.flow, head.object, head.version, ids)
    claim_id = conn.execute(
        insert(CLAIMS)
        .values(
            flow=head.flow,
            object=head.object,
            owner=owner,
            lease_until=now + lease,
            created_at=now,
            version=head.version,
        )
        .returning(CLAIMS.c.id)
    ).scalar_one()
    returning = "" if whole else f" RETURNING {_ROW_COLUMNS}"
    rows: list[ClaimedRow] = []
    for condition, params in among(conn, "id", ids):
        statement = f"UPDATE journeys SET claim_id = ? WHERE {condition}"
        if whole:
            conn.exec_driver_sql(placeholders(conn, statement), (claim_id, *params))
        else:
            rows += [_row(r) for r in fetch(conn, statement + returning, [claim_id, *params])]
    if whole:
        return ClaimedBatch(claim_id, head.flow, head.object, [], ids, version=head.version)
    rows = _in_order(rows)
    return ClaimedBatch(claim_id, head.flow, head.object, rows, version=head.version)


def _busy_buckets(
    conn: Connection, flows: Sequence[str], claims_all: Mapping[str, set[str]]
) -> list[tuple[str, str]]:
    """The buckets (objects that claim everything waiting) another worker is deciding now."""
    if not any(claims_all.get(flow) for flow in flows):
        return []
    rows = fetch(
        conn,
        f"SELECT DISTINCT flow, object FROM claims WHERE flow IN ({marks(len(flows))})",
        list(flows),
    )
    return [(f, o) for f, o in rows if o in claims_all.get(f, set())]


def _bucket_free(conn: Connection, flow: str, object_id: str) -> bool:
    """Whether no worker decides this bucket now; on PostgreSQL taken under a transaction
    lock per (flow, object), so two workers that both look cannot both claim it (the second
    sees the first's claim once the lock is its own)."""
    if conn.dialect.name == "postgresql":
        fetch(
            conn, "SELECT pg_advisory_xact_lock(hashtext(?))", [f"sluis-bucket/{flow}/{object_id}"]
        )
    found = fetch(
        conn, "SELECT 1 FROM claims WHERE flow = ? AND object = ? LIMIT 1", [flow, object_id]
    )
    return not found


class ClaimedRow(NamedTuple):
    id: int
    customer_id: int
    data: dict[str, Any]
    entered_at: datetime
    arrived_at: datetime
    via: str
    release_id: int | None


_ROW_COLUMNS = "id, customer_id, data, entered_at, arrived_at, via, release_id"


def _row(r: tuple[Any, ...]) -> ClaimedRow:
    entered, arrived = time_value(r[3]), time_value(r[4])
    assert entered is not None and arrived is not None  # NOT NULL columns
    return ClaimedRow(r[0], r[1], json_value(r[2]), entered, arrived, r[5], r[6])


def claimed_rows(conn: Connection, ids: Sequence[int]) -> list[ClaimedRow]:
    """The rows of claimed journeys, in order of arrival."""
    rows: list[ClaimedRow] = []
    for condition, params in among(conn, "id", ids):
        statement = f"SELECT {_ROW_COLUMNS} FROM journeys WHERE {condition}"
        rows += [_row(r) for r in fetch(conn, statement, params)]
    return _in_order(rows)


def _in_order(rows: list[ClaimedRow]) -> list[ClaimedRow]:
    rows.sort(key=lambda r: (r.arrived_at, r.customer_id, r.id))
    return rows


def extend_lease(conn: Connection, claim_id: int, owner: str, until: datetime) -> bool:
    """Heartbeat: push the lease on; False when the claim is no longer ours."""
    result = conn.execute(
        update(CLAIMS)
        .where(CLAIMS.c.id == claim_id, CLAIMS.c.owner == owner)
        .values(lease_until=until)
    )
    return bool(result.rowcount)


def release_claim(conn: Connection, claim_id: int) -> None:
    """Give a claimed batch back untouched (graceful shutdown, or an error before routing)."""
    conn.execute(update(J).where(JC.claim_id == claim_id).values(claim_id=None))
    conn.execute(delete(CLAIMS).where(CLAIMS.c.id == claim_id))


def lapse_claim(conn: Connection, claim_id: int, error: str, now: datetime) -> None:
    """A run of the claimed batch failed: keep the claim (and its count of attempts) with the
    error, its lease lapsed, so the next worker to look takes it over at once."""
    conn.execute(
        update(CLAIMS)
        .where(CLAIMS.c.id == claim_id)
        .values(error=error, lease_until=now - timedelta(seconds=1))
    )


def claimed_ids(conn: Connection, claim_id: int) -> list[int]:
    """The journeys a claim still holds, in order of arrival."""
    query = "SELECT id FROM journeys WHERE claim_id = ? ORDER BY arrived_at, customer_id, id"
    return [i for (i,) in fetch(conn, query, [claim_id])]


def still_ours(conn: Connection, claim_id: int, owner: str) -> bool:
    query = select(CLAIMS.c.owner).where(CLAIMS.c.id == claim_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).scalar() == owner


def apply(
    conn: Connection,
    *,
    claim_id: int,
    flow: str,
    now: datetime,
    steps: Sequence[tuple[int, str, str | None, str]],
    positions: Mapping[int, Sequence[Any]],
    data: Mapping[int, dict[str, Any]],
    ends_claim: bool = True,
) -> None:
    """Commit a batch's passage: its steps (journey, object, output, reason), where each
    journey stands now (object, state, ready_at, arrived_at, wake_on, release_id), the merged
    entry data of journeys whose data changed; then end the claim (unless more slices of it
    follow)."""
    times: dict[datetime | None, Any] = {}

    def at(moment: datetime | None) -> Any:
        if moment not in times:
            times[moment] = time_param(conn, moment)
        return times[moment]

    step_at = at(now)
    insert_rows(
        conn,
        STEPS,
        ("journey_id", "flow", "object", "at", "output", "reason"),
        [(jid, flow, obj, step_at, output, reason) for jid, obj, output, reason in steps],
    )
    placed: dict[tuple[Any, ...], list[int]] = {}
    for jid, (obj, state, ready, arrived, wake_on, release) in positions.items():
        placed.setdefault((obj, state, at(ready), at(arrived), wake_on, release), []).append(jid)
    _place(conn, placed)
    if data:
        encode = encoder(conn, JC.data)
        update_rows(conn, J, ("data",), "id", [(encode(value), jid) for jid, value in data.items()])
    if ends_claim:
        end_claim(conn, claim_id)


_PLACED = ("object", "state", "ready_at", "arrived_at", "wake_on", "release_id", "claim_id")
TOGETHER = 50  # journeys that stand alike from which one statement places them all


def _place(conn: Connection, placed: Mapping[tuple[Any, ...], list[int]]) -> None:
    """Unclaim journeys where they stand now (by position: object, state, ready_at,
    arrived_at, wake_on, release_id): those that stand alike, as a batch moving on together
    does, by one statement each position (a third less of SQLite's time than a row at a
    time), the rest a row at a time."""
    sets = ", ".join(f"{name} = ?" for name in _PLACED)
    alone: list[tuple[Any, ...]] = []
    for position, ids in placed.items():
        if len(ids) < TOGETHER:
            alone += [(*position, None, jid) for jid in ids]
            continue
        condition, param = one_of(conn, "id", ids)
        statement = f"UPDATE journeys SET {sets} WHERE {condition}"
        conn.exec_driver_sql(placeholders(conn, statement), (*position, None, param))
    update_rows(conn, J, _PLACED, "id", alone)


def end_claim(conn: Connection, claim_id: int) -> None:
    """A claimed batch is done: its claim goes."""
    conn.execute(delete(CLAIMS).where(CLAIMS.c.id == claim_id))


def wake(conn: Connection, customer_ids: Sequence[int], kind: str, at: datetime) -> int:
    """Make journeys of these customers that wait for ``kind`` ready at ``at`` (unless they
    are ready earlier)."""
    woken = 0
    for condition, _ in among(conn, JC.customer_id, list(dict.fromkeys(customer_ids))):
        result = conn.execute(
            update(J)
            .where(
                condition,
                JC.wake_on == kind,
                JC.state == "active",
                or_(JC.ready_at.is_(None), JC.ready_at > at),
            )
            .values(ready_at=at)
        )
        woken += int(result.rowcount)
    return woken


def next_ready(conn: Connection, flows: Sequence[str]) -> datetime | None:
    """The earliest time a journey of these flows becomes ready."""
    if not flows:
        return None
    found = fetch(
        conn,
        "SELECT min(ready_at) FROM journeys WHERE state = 'active' "
        f"AND flow IN ({marks(len(flows))}) AND ready_at IS NOT NULL",
        list(flows),
    )
    return time_value(found[0][0]) if found else None
