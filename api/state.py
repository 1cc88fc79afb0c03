"""What every route reaches through ``request.app.state.sluis``: the project, its store, and a
runtime over its flows (to enter customers and record events); also the webhook endpoints of
the flows (rebuilt when a deploy changes them: ``api.endpoints.follow_deploys``) and the write
path of the HTTP API."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection

from engine.model.project import Project
from engine.runtime.runner import Runtime
from engine.store import Store
from engine.store.statistics import Growth

if TYPE_CHECKING:
    from api.endpoints import Endpoint
    from engine.store.tokens import Access

TOKEN_TTL = 1.0
T = TypeVar("T")


@dataclass
class AppState:
    project: Project
    store: Store
    runtime: Runtime
    webhooks: dict[str, Endpoint] = field(default_factory=dict)
    endpoints_of: int = 0  # the runtime's generation of flows ``webhooks`` were built from
    # token hash -> (monotonic time it was checked, access): a checked token is trusted for
    # TOKEN_TTL seconds, so a revocation or lapse takes effect within that time
    tokens: dict[str, tuple[float, Access]] = field(default_factory=dict)
    # token hash -> the check in flight, which concurrent calls with that token wait for
    checking: dict[str, asyncio.Future[Access]] = field(default_factory=dict)
    _write_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    growth: Growth | None = None  # made from the store when the state is

    def __post_init__(self) -> None:
        if self.growth is None:
            self.growth = Growth(self.store.db)

    async def settle(self) -> None:
        """Wait for the token checks in flight (``api.deps.check_once`` starts them in the
        background): a check holds a connection of the store until it is done, so the store
        is disposed, and an event loop ended, only after them."""
        await asyncio.gather(*self.checking.values(), return_exceptions=True)

    async def read(self, lookup: Callable[[], T]) -> T:
        """``lookup()``, a read of a few rows by key. On SQLite it runs in the event loop: a
        read of a local file in WAL mode never waits for a writer and takes tens of
        microseconds, less than handing it to a thread and back (and than the GIL hand-offs
        that set the p99 under load). Elsewhere it runs in the executor, as a read across a
        network may wait."""
        if self.store.db.dialect == "sqlite":
            return lookup()
        return await asyncio.get_running_loop().run_in_executor(None, lookup)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction. On SQLite the threads of this process queue for it here, in
        order, instead of in SQLite's busy handler, which backs off by sleeping."""
        if self.store.db.dialect != "sqlite":
            with self.store.db.write() as conn:
                yield conn
            return
        with self._write_lock, self.store.db.write() as conn:
            yield conn
