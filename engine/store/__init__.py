"""The store: customers, records, groups, journeys, steps, events and send logs in SQL.

``Store`` joins a ``Database`` with the project whose profile types its customers. Objects read
through it while they run; writes that must commit with a batch go through
``RunContext.write``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

# SQLAlchemy loads with the first use of the store, not with the package: validation imports
# engine.store.sqlexpr (pure text) to check that selections compile, and stays fast.
if TYPE_CHECKING:
    from engine.model.project import Project
    from engine.store.db import Database


def __getattr__(name: str) -> Any:
    if name == "Database":
        from engine.store.db import Database

        return Database
    raise AttributeError(f"module 'engine.store' has no attribute {name!r}")


__all__ = ["Database", "Store"]
log = logging.getLogger(__name__)


class Store:
    """A database seen through a project."""

    def __init__(self, db: Database, project: Project) -> None:
        self.db = db
        self.project = project

    @classmethod
    def open(cls, project: Project, url: str | None = None) -> Store:
        from engine.errors import StoreValueRejected
        from engine.store import profile_columns, profile_indexes
        from engine.store.db import Database

        store = cls(Database(url or project.database_url), project)
        # the typed columns and indexes sluis.yaml asks for, before anything reads
        try:
            profile_columns.sync(store.db, project)
            profile_indexes.sync(store.db, project)
        except StoreValueRejected as exc:  # a row the database cannot read a field of
            log.warning(
                "the typed profile columns could not be made (%s); segments read the JSON "
                "profile meanwhile. 'sluis db check' lists rows that cannot be read, "
                "'sluis db check --fix' repairs them",
                exc,
            )
        return store

    def customers(self, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Typed customers by system_id, with their groups."""
        from engine.store.customers import load_customers

        with self.db.read() as conn:
            return load_customers(conn, ids, self.project)
