"""The one thread that touches the database: every read of the TUI and every step of a replay
runs here, one job at a time, so the UI never waits on the database and the replay's in-memory
SQLite (a single shared connection) is never used by two threads at once."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from textual.worker import get_current_worker

T = TypeVar("T")


class StoreThread:
    """A queue of jobs run in order by the body of one Textual thread worker (``run``)."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue()

    def run(self) -> None:
        """The worker's body: run jobs until the worker is cancelled or ``stop`` is called."""
        worker = get_current_worker()
        while not worker.is_cancelled:
            try:
                job = self._jobs.get(timeout=0.1)
            except queue.Empty:
                continue
            if job is None:
                return
            work, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(work())
            except BaseException as exc:  # handed to whoever awaits the job
                future.set_exception(exc)

    def submit(self, work: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((work, future))
        return future

    async def call(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the store thread and wait for it without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(work))

    def stop(self) -> None:
        self._jobs.put(None)
