"""Which flows run: the ``flow_states`` table, written by start and stop, read by every worker
(at most once a second) and by a webhook before it stores anything."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from engine.store.models import FLOW_STATES

FLOWS = FLOW_STATES


def started_flows(conn: Connection) -> list[str]:
    """The names of the flows started now (flows of other projects' files included)."""
    return list(conn.execute(select(FLOWS.c.flow).where(FLOWS.c.started.is_(True))).scalars())


def set_started(conn: Connection, name: str, started: bool, now: datetime) -> None:
    """Start or stop ``name`` as of ``now``."""
    done = conn.execute(
        update(FLOWS).where(FLOWS.c.flow == name).values(started=started, changed_at=now)
    ).rowcount
    if not done:
        conn.execute(FLOWS.insert().values(flow=name, started=started, changed_at=now))
