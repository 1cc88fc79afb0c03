"""Group commit for webhook calls: calls that arrive while a write is running wait for it and
are then written together, in one transaction with a few set-based statements, on one
worker thread. SQLite has one writer at a time, so this is what lets one server take
thousands of calls a second; an idle server writes each call at once, with no added delay.

A batch that fails (a unique value taken, a stopped flow) is written again call by call, so
each call gets its own answer and one bad call never fails another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection

from api.endpoints import Endpoint
from api.errors import lost_race
from api.state import AppState
from engine.webhooks.payload import Mapped
from engine.webhooks.receive import ItemReceipt, receive

MAX_BATCH = 500  # payloads per transaction
RACE_TRIES = 3
# the tables a webhook call adds rows to (records too, when its payloads carry them)
GROWING = ("customers", "journeys", "records", "webhook_deliveries")


@dataclass
class Call:
    """One webhook call waiting to be written."""

    endpoint: Endpoint
    items: list[Mapped]
    result: asyncio.Future[list[ItemReceipt]]


Outcome = list[ItemReceipt] | BaseException


def write_together(state: AppState, calls: Sequence[Call]) -> list[Outcome]:
    """Write calls in one transaction (payloads of one endpoint in one ``receive``), tried
    again when another writer stored one of their keys first; when that fails, write them one
    by one (a lone call is written so from the start), each with the same retry."""
    outcomes: list[Outcome] | None = None
    for _ in range(RACE_TRIES if len(calls) > 1 else 0):
        try:
            with state.write() as conn:
                written = _receive_all(conn, state, calls)
            outcomes = written  # only once the transaction has committed
            break
        except Exception as exc:
            if not lost_race(exc):  # each call on its own below, with its own answer
                break
            # else another server stored one of these first: the next try sees it
    if outcomes is None:
        outcomes = [_one(state, call) for call in calls]
    assert state.growth is not None
    state.growth.add(GROWING, sum(len(o) for o in outcomes if not isinstance(o, BaseException)))
    return outcomes


def _receive_all(conn: Connection, state: AppState, calls: Sequence[Call]) -> list[Outcome]:
    by_endpoint: dict[str, list[int]] = {}
    for position, call in enumerate(calls):
        by_endpoint.setdefault(call.endpoint.spec.endpoint, []).append(position)
    outcomes: list[Outcome] = [[] for _ in calls]
    for positions in by_endpoint.values():
        spec = calls[positions[0]].endpoint.spec
        items = [item for p in positions for item in calls[p].items]
        receipts = receive(conn, state.runtime, spec, items)
        start = 0
        for p in positions:
            count = len(calls[p].items)
            outcomes[p] = receipts[start : start + count]
            start += count
    return outcomes


def _one(state: AppState, call: Call) -> Outcome:
    # two servers can race on one event id or one customer key (PostgreSQL): the loser's
    # insert fails on the unique index, and its next try sees the winner's row, so it answers
    # as a redelivery or updates that customer
    for attempt in range(1, RACE_TRIES + 1):
        try:
            with state.write() as conn:
                return receive(conn, state.runtime, call.endpoint.spec, call.items)
        except Exception as exc:
            if attempt == RACE_TRIES or not lost_race(exc):
                return exc
    raise AssertionError("unreachable")


class GroupWriter:
    """Collects calls in the event loop and writes them in batches on a worker thread."""

    def __init__(self, write: Callable[[Sequence[Call]], list[Outcome]]) -> None:
        self.write = write
        self.pending: list[Call] = []
        self.busy = False
        self._task: asyncio.Task[None] | None = None  # kept so it is not collected mid-way

    async def submit(self, endpoint: Endpoint, items: list[Mapped]) -> list[ItemReceipt]:
        """Queue a call and wait for its receipts (or its error)."""
        loop = asyncio.get_running_loop()
        call = Call(endpoint, items, loop.create_future())
        self.pending.append(call)
        if not self.busy:
            self.busy = True
            self._task = loop.create_task(self._drain())
        return await call.result

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch: list[Call] = []
                size = 0
                while self.pending and (
                    not batch or size + len(self.pending[0].items) <= MAX_BATCH
                ):
                    call = self.pending.pop(0)
                    batch.append(call)
                    size += len(call.items)
                try:
                    outcomes = await run_in_threadpool(self.write, batch)
                except BaseException as exc:  # the loop is closing, or a bug: tell every caller
                    outcomes = [exc] * len(batch)
                for call, outcome in zip(batch, outcomes, strict=True):
                    if call.result.done():
                        continue
                    if isinstance(outcome, BaseException):
                        call.result.set_exception(outcome)
                    else:
                        call.result.set_result(outcome)
        finally:
            self.busy = False
