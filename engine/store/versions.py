"""Deployed flow versions in SQL: the ``flow_versions`` table (each deployed file: number,
content hash, YAML, who, when), the running version in ``flow_states.version``, and the
version each journey runs on (``journeys.version``; 0: made before versions were kept, it runs
on the running version)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, func, select, update

from engine.deployed import content_hash as content_hash
from engine.store.models import FLOW_STATES, FLOW_VERSIONS, JOURNEYS
from engine.store.raw import among, execute_many, fetch, marks, placeholders, time_param

VERSIONS = FLOW_VERSIONS
J = JOURNEYS
FLOWS = FLOW_STATES


class StoredVersion(NamedTuple):
    flow: str
    number: int
    hash: str
    yaml: str
    deployed_by: str
    deployed_at: datetime


class Deployed(NamedTuple):
    """A flow with a stored version: the running version's number and whether it is started."""

    version: int
    started: bool


def deployed(conn: Connection) -> dict[str, Deployed]:
    """Every flow with a stored version (started or stopped), by name."""
    rows = conn.execute(
        select(FLOWS.c.flow, FLOWS.c.version, FLOWS.c.started).where(FLOWS.c.version > 0)
    )
    return {flow: Deployed(version, bool(started)) for flow, version, started in rows}


def running_version(conn: Connection, flow: str) -> int:
    """The running version of ``flow`` (0: none stored)."""
    found = conn.execute(select(FLOWS.c.version).where(FLOWS.c.flow == flow)).scalar()
    return int(found or 0)


def version(conn: Connection, flow: str, number: int) -> StoredVersion | None:
    row = conn.execute(
        select(VERSIONS).where(VERSIONS.c.flow == flow, VERSIONS.c.number == number)
    ).first()
    return StoredVersion(*row) if row is not None else None


def add_version(conn: Connection, flow: str, text: str, by: str, now: datetime) -> int:
    """Store ``text`` as the next version of ``flow`` and make it the running one; returns
    its number. The flow's state row must exist (``flowstate.set_started`` made it)."""
    last = conn.execute(select(func.max(VERSIONS.c.number)).where(VERSIONS.c.flow == flow))
    number = int(last.scalar() or 0) + 1
    conn.execute(
        VERSIONS.insert().values(
            flow=flow,
            number=number,
            hash=content_hash(text),
            yaml=text,
            deployed_by=by,
            deployed_at=now,
        )
    )
    conn.execute(update(FLOWS).where(FLOWS.c.flow == flow).values(version=number))
    return number


def waiting_at(conn: Connection, flow: str, versions: Sequence[int]) -> dict[str, int]:
    """How many active journeys of these versions of ``flow`` stand at each object."""
    rows = fetch(
        conn,
        "SELECT object, count(*) FROM journeys WHERE flow = ? AND state = 'active' "
        f"AND version IN ({marks(len(versions))}) GROUP BY object",
        [flow, *versions],
    )
    return {obj: int(n) for obj, n in rows}


def draining(conn: Connection, flow: str, running: int) -> dict[int, int]:
    """Older versions of ``flow`` that still hold active journeys: version -> how many."""
    return {number: sum(at.values()) for number, at in draining_at(conn, flow, running).items()}


def draining_at(conn: Connection, flow: str, running: int) -> dict[int, dict[str, int]]:
    """Older versions of ``flow`` that still hold active journeys: version -> object -> how
    many wait there."""
    rows = fetch(
        conn,
        "SELECT version, object, count(*) FROM journeys WHERE flow = ? AND state = 'active' "
        "AND version > 0 AND version <> ? GROUP BY version, object",
        [flow, running],
    )
    found: dict[int, dict[str, int]] = {}
    for number, obj, count in rows:
        found.setdefault(int(number), {})[obj] = int(count)
    return found


def move_journeys(
    conn: Connection,
    flow: str,
    versions: Sequence[int],
    to: int,
    moved: Mapping[str, str],
    now: datetime,
) -> int:
    """The active journeys of these versions of ``flow`` go on on version ``to``; those at an
    object named in ``moved`` stand at its new object from ``now`` (with a step saying so).
    Returns how many were moved to another object."""
    at = time_param(conn, now)
    shifted = 0
    for old, new in moved.items():
        ids = [
            i
            for (i,) in fetch(
                conn,
                "SELECT id FROM journeys WHERE flow = ? AND object = ? AND state = 'active' "
                f"AND version IN ({marks(len(versions))})",
                [flow, old, *versions],
            )
        ]
        if not ids:
            continue
        shifted += len(ids)
        for condition, params in among(conn, "id", ids):
            conn.exec_driver_sql(
                placeholders(
                    conn,
                    "UPDATE journeys SET object = ?, ready_at = ?, arrived_at = ?, "
                    f"wake_on = NULL WHERE {condition}",
                ),
                (new, at, at, *params),
            )
        reason = f"moved to '{new}' by the deploy of version {to}"
        execute_many(
            conn,
            "INSERT INTO steps (journey_id, flow, object, at, output, reason) "
            "VALUES (?, ?, ?, ?, NULL, ?)",
            [(i, flow, old, at, reason) for i in ids],
        )
    conn.exec_driver_sql(
        placeholders(
            conn,
            "UPDATE journeys SET version = ? WHERE flow = ? AND state = 'active' "
            f"AND version IN ({marks(len(versions))})",
        ),
        (to, flow, *versions),
    )
    return shifted
