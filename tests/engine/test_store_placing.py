"""Committing a batch places its journeys where they stand now: many that stand alike by one
statement, the rest a row at a time; either way every journey gets exactly its own position
and is unclaimed. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from test_runtime import START, claim_batch, setup

from engine.model.project import Project
from engine.runtime.passage import Position
from engine.sdk.batch import Entry
from engine.store import Store
from engine.store import journeys as sql
from engine.store.models import JOURNEYS


def test_journeys_alike_and_alone_each_get_their_own_position(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    together = sql.TOGETHER + 5
    runtime, _, ids = setup(make_project, store_for, n=together + 3)
    store = runtime.store
    runtime.enter("f", "hook", [Entry(customer_id) for customer_id in ids])
    claimed = claim_batch(runtime, "w1")
    assert isinstance(claimed, sql.ClaimedBatch) and len(claimed.rows) == together + 3
    journeys = [row.id for row in claimed.rows]
    later = START + timedelta(days=2)
    alike = Position("opened", "active", later, START, "open", None)
    positions = dict.fromkeys(journeys[:together], alike)
    positions[journeys[together]] = Position("end", "finished", None, START, None, None)
    positions[journeys[together + 1]] = Position("opened", "active", later, START, None, 7)
    positions[journeys[together + 2]] = alike._replace(ready_at=later + timedelta(hours=1))
    with store.db.write() as conn:
        sql.apply(
            conn,
            claim_id=claimed.claim_id,
            flow="f",
            now=START,
            steps=[],
            positions=positions,
            data={},
        )
    columns = JOURNEYS.c
    query = select(
        columns.id,
        columns.object,
        columns.state,
        columns.ready_at,
        columns.arrived_at,
        columns.wake_on,
        columns.release_id,
        columns.claim_id,
    ).where(columns.id.in_(journeys))
    with store.db.read() as conn:
        stored = {row[0]: tuple(row[1:]) for row in conn.execute(query)}
    assert stored == {
        jid: (p.object, p.state, p.ready_at, p.arrived_at, p.wake_on, p.release_id, None)
        for jid, p in positions.items()
    }
