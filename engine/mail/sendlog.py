"""The send log: one row per (journey, object), committed *before* the mail is handed to the
sender and marked after. A batch that runs again after a crash finds the row and does not send
twice: ``sent`` is known, ``sending`` means the run died mid-send (recorded as ``unknown``, never
guessed), ``failed`` was known not accepted and may be tried again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine.mail.compose import Letter
from engine.mail.senders import Delivery
from engine.store import Database
from engine.store.models import SendLog

LOG = SendLog.__table__  # type: ignore[attr-defined]
CHUNK = 500


@dataclass(frozen=True)
class Logged:
    """A journey's send-log row for one mail object."""

    state: str
    message_id: str
    attempts: int
    detail: str | None


def read(db: Database, object_id: str, journey_ids: Sequence[int]) -> dict[int, Logged]:
    """The rows of these journeys for ``object_id``."""
    found: dict[int, Logged] = {}
    with db.read() as conn:
        for start in range(0, len(journey_ids), CHUNK):
            query = select(LOG).where(
                LOG.c.object == object_id, LOG.c.journey_id.in_(journey_ids[start : start + CHUNK])
            )
            for row in conn.execute(query):
                found[row.journey_id] = Logged(row.state, row.message_id, row.attempts, row.detail)
    return found


def _insert(conn: Connection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(LOG)


def claim(db: Database, object_id: str, letters: Sequence[Letter], now: datetime) -> set[int]:
    """Record ``sending`` for these letters and commit; return the journeys this run may send:
    those without a row, and those whose last try ``failed``. Another worker's claim wins."""
    if not letters:
        return set()
    ids = [letter.journey_id for letter in letters]
    mine: set[int] = set()
    with db.write() as conn:
        rows = [
            {
                "journey_id": letter.journey_id,
                "object": object_id,
                "state": "sending",
                "message_id": letter.message_id,
                "at": now,
                "attempts": 1,
                "detail": None,
            }
            for letter in letters
        ]
        statement = (
            _insert(conn)
            .on_conflict_do_nothing(index_elements=["journey_id", "object"])
            .returning(LOG.c.journey_id)
        )
        mine.update(conn.execute(statement, rows).scalars())
        retry = [i for i in ids if i not in mine]
        for start in range(0, len(retry), CHUNK):
            statement = (
                update(LOG)
                .where(
                    LOG.c.object == object_id,
                    LOG.c.journey_id.in_(retry[start : start + CHUNK]),
                    LOG.c.state == "failed",
                )
                .values(state="sending", at=now, attempts=LOG.c.attempts + 1, detail=None)
                .returning(LOG.c.journey_id)
            )
            mine.update(conn.execute(statement).scalars())
    return mine


def mark(db: Database, object_id: str, deliveries: Sequence[Delivery], now: datetime) -> None:
    """Record what the sender answered, and commit."""
    if not deliveries:
        return
    with db.write() as conn:
        conn.execute(
            update(LOG)
            .where(LOG.c.object == object_id, LOG.c.journey_id == bindparam("j_id"))
            .values(state=bindparam("j_state"), detail=bindparam("j_detail"), at=now),
            [
                {"j_id": d.journey_id, "j_state": d.state, "j_detail": d.detail or None}
                for d in deliveries
            ],
        )


def mark_unknown(db: Database, object_id: str, journey_ids: Sequence[int], now: datetime) -> None:
    """Rows left ``sending`` by a run that died become ``unknown``."""
    if not journey_ids:
        return
    with db.write() as conn:
        for start in range(0, len(journey_ids), CHUNK):
            conn.execute(
                update(LOG)
                .where(
                    LOG.c.object == object_id,
                    LOG.c.journey_id.in_(journey_ids[start : start + CHUNK]),
                    LOG.c.state == "sending",
                )
                .values(state="unknown", detail="the run sending it stopped before it was marked")
            )
