"""Keeping PostgreSQL's statistics in step with tables that grow fast. The planner costs a plan
by the row counts ``ANALYZE`` last saw; a fresh database's tables look empty, and a statement
prepared then (psycopg prepares one after a few runs) keeps a plan that reads whole tables
once they hold thousands of rows. Autovacuum catches up only after a minute, or never where it
is off. So a process that adds rows analyzes a table itself once it has added as many rows as
the table held at its last ANALYZE (at least ``FLOOR``): after 1,000 rows into a fresh table,
then 2,000, 4,000, ... a handful of times over a table's life, each on a thread of its own so no
caller waits. ANALYZE also makes PostgreSQL plan prepared statements again."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from sqlalchemy import text

from engine.store.db import Database

log = logging.getLogger("sluis.store")
FLOOR = 1_000


class Growth:
    """Rows this process added per table, and the ANALYZE each is due."""

    def __init__(self, db: Database, floor: int = FLOOR) -> None:
        self.db = db
        self.floor = floor
        self.added: dict[str, int] = {}
        self.size: dict[str, float] = {}  # rows at the last ANALYZE, as far as this process knows
        self._lock = threading.Lock()

    def add(self, tables: Sequence[str], rows: int) -> threading.Thread | None:
        """Count ``rows`` added to each of ``tables``; the thread analyzing the tables that
        are due (None when none is, or on SQLite, which plans without statistics)."""
        if self.db.dialect != "postgresql" or rows <= 0:
            return None
        with self._lock:
            due = []
            for table in tables:
                self.added[table] = self.added.get(table, 0) + rows
                if self.added[table] >= max(self.floor, self.size.get(table, 0.0)):
                    self.size[table] = self.size.get(table, 0.0) + self.added.pop(table)
                    due.append(table)
        if not due:
            return None
        thread = threading.Thread(target=self._analyze, args=(due,), daemon=True)
        thread.start()
        return thread

    def _analyze(self, tables: list[str]) -> None:
        try:
            for table in tables:
                self.db.analyze(table)
                with self.db.read() as conn:
                    rows = conn.execute(
                        text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table}
                    ).scalar()
                with self._lock:
                    self.size[table] = max(self.size.get(table, 0.0), float(rows or 0))
        except Exception as exc:  # statistics are an optimisation: never fail a caller
            log.warning("could not analyze %s: %s", ", ".join(tables), exc)
