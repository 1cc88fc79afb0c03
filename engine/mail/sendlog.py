"""The send log: one row per (journey, object), so a mail goes out at most once even when its
batch runs again after a crash.

A run first *queues* a window of mails (rows owned by the run, committed), then, right before it
hands each mail to the server, moves that row to *sending* (committed), and after the answers
marks them *sent*, *failed*, *refused* or *unknown*. When a batch runs again: ``sent`` is
known; ``queued`` was never handed over, so the new run takes it over and sends it; ``sending``
means the run died while handing it over: recorded as ``unknown``, never sent again (the mail
may have gone out); ``failed`` (SMTP 4xx, no connection) and ``refused`` (SMTP 5xx) were known
not accepted and may be tried again (the refused one only when its failed journey is retried)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update

from engine.mail.compose import Letter
from engine.mail.handover import Delivery
from engine.store import Database
from engine.store.models import SEND_LOG
from engine.store.raw import among, fetch, placeholders, time_param

LOG = SEND_LOG


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
        for condition, params in among(conn, "journey_id", journey_ids):
            statement = (
                "SELECT journey_id, state, message_id, attempts, detail FROM send_log "
                f"WHERE object = ? AND {condition}"
            )
            for journey_id, *logged in fetch(conn, statement, [object_id, *params]):
                found[journey_id] = Logged(*logged)
    return found


CLAIM_ROWS = 500  # rows queued by one statement (5 parameters each)
QUEUED = "(?, ?, 'queued', ?, ?, 1, NULL, ?)"


def claim(
    db: Database, object_id: str, letters: Sequence[Letter], now: datetime, owner: str
) -> set[int]:
    """Queue these letters for ``owner`` and commit; return the journeys this run may send:
    those without a row, those whose last try ``failed`` or was ``refused`` (a retried
    journey), and those a stopped run queued but never handed over. A row that is sending or
    sent stays as it is."""
    if not letters:
        return set()
    ids = [letter.journey_id for letter in letters]
    mine: set[int] = set()
    with db.write() as conn:
        at = time_param(conn, now)
        # straight to the driver, a few hundred rows a statement (SQLAlchemy processed every
        # row's parameters); a row already there (another run's) is not this run's
        for start in range(0, len(letters), CLAIM_ROWS):
            part = letters[start : start + CLAIM_ROWS]
            params = [
                value
                for letter in part
                for value in (letter.journey_id, object_id, letter.message_id, at, owner)
            ]
            insert = (
                "INSERT INTO send_log (journey_id, object, state, message_id, at, attempts, "
                f"detail, owner) VALUES {', '.join([QUEUED] * len(part))} "
                "ON CONFLICT (journey_id, object) DO NOTHING RETURNING journey_id"
            )
            result = conn.exec_driver_sql(placeholders(conn, insert), tuple(params))
            mine.update(journey_id for (journey_id,) in result)
        retry = [i for i in ids if i not in mine]
        again = (("failed", LOG.c.attempts + 1), ("refused", LOG.c.attempts + 1))
        for state, attempts in (*again, ("queued", LOG.c.attempts)):
            for condition, _ in among(conn, LOG.c.journey_id, retry):
                statement = (
                    update(LOG)
                    .where(LOG.c.object == object_id, condition, LOG.c.state == state)
                    .values(state="queued", at=now, attempts=attempts, detail=None, owner=owner)
                    .returning(LOG.c.journey_id)
                )
                mine.update(conn.execute(statement).scalars())
    return mine


def handover(db: Database, object_id: str, journey_id: int, owner: str) -> bool:
    """Record that ``owner`` hands this mail over now, and commit; False when another run has
    taken the row over (then this run must not send it). Once per mail, so straight to the
    driver."""
    with db.write() as conn:
        changed = conn.exec_driver_sql(
            placeholders(conn, HANDOVER), (object_id, journey_id, owner)
        ).rowcount
    return bool(changed)


HANDOVER = (
    "UPDATE send_log SET state = 'sending' WHERE object = ? AND journey_id = ? AND owner = ? "
    "AND state IN ('queued', 'sending')"
)


def handover_all(db: Database, object_id: str, journey_ids: Sequence[int], owner: str) -> set[int]:
    """``handover`` for many mails in one transaction: the journeys whose mails may go."""
    handed: set[int] = set()
    with db.write() as conn:
        for condition, params in among(conn, "journey_id", journey_ids):
            statement = (
                "UPDATE send_log SET state = 'sending' WHERE object = ? AND owner = ? "
                f"AND state IN ('queued', 'sending') AND {condition} RETURNING journey_id"
            )
            result = conn.exec_driver_sql(
                placeholders(conn, statement), (object_id, owner, *params)
            )
            handed.update(journey_id for (journey_id,) in result)
    return handed


def mark(db: Database, object_id: str, deliveries: Sequence[Delivery], now: datetime) -> None:
    """Record what the sender answered, and commit: one statement per answer (most mails of
    a window get the same one) for all its journeys, straight to the driver."""
    if not deliveries:
        return
    answers: dict[tuple[str, str | None], list[int]] = {}
    for delivery in deliveries:
        answers.setdefault((delivery.state, delivery.detail or None), []).append(
            delivery.journey_id
        )
    with db.write() as conn:
        at = time_param(conn, now)
        for (state, detail), ids in answers.items():
            for condition, params in among(conn, "journey_id", ids):
                statement = (
                    "UPDATE send_log SET state = ?, detail = ?, at = ? "
                    f"WHERE object = ? AND {condition}"
                )
                conn.exec_driver_sql(
                    placeholders(conn, statement), (state, detail, at, object_id, *params)
                )


def mark_unknown(db: Database, object_id: str, journey_ids: Sequence[int], now: datetime) -> None:
    """Rows left ``sending`` by a run that died become ``unknown``."""
    if not journey_ids:
        return
    with db.write() as conn:
        for condition, _ in among(conn, LOG.c.journey_id, journey_ids):
            conn.execute(
                update(LOG)
                .where(LOG.c.object == object_id, condition, LOG.c.state == "sending")
                .values(state="unknown", detail="the run sending it stopped before it was marked")
            )
