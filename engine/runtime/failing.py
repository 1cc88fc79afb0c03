"""Batches that cannot run: no poison loops (DESIGN.md 8).

A journey at an object its flow lacks (removed while customers waited there) fails with a
reason that says so. A batch whose object raises an unexpected error runs at most
``MAX_ATTEMPTS`` times (the attempts are counted on the claim, in the database, so they hold
across workers and crashes); then its journeys fail with the error's one-line message, the
traceback having gone to the log once, and the worker goes on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from engine.errors import SluisError, TransientError
from engine.model.retries import RetrySettings, tries_so_far
from engine.runtime.passage import BatchReport, Passage
from engine.sdk.batch import Journey, Routing
from engine.store import journeys as sql

if TYPE_CHECKING:
    from engine.runtime.runner import Runtime

log = logging.getLogger("sluis.runtime")

MAX_ATTEMPTS = 3


def one_line(exc: BaseException) -> str:
    """``KeyError: 'wait-nl'``: the error's type and the first line of its message."""
    text = str(exc).strip().splitlines()
    message = text[0] if text else ""
    line = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def missing_object(runtime: Runtime, claimed: sql.ClaimedBatch) -> str | None:
    """Why the claimed batch cannot run because the runtime cannot find its object (the
    version of the flow its journeys run on no longer has it), or None when it can."""
    if claimed.flow not in runtime.flows:
        return f"failed: flow '{claimed.flow}' is not running here any more"
    try:
        flow = runtime.flow_at(claimed.flow, claimed.version)
    except SluisError as exc:  # a version gone from the database, or no longer valid
        return f"failed: {exc}"
    if claimed.object not in flow.objects:
        return (
            f"failed: flow '{claimed.flow}' has no object '{claimed.object}' any more "
            "(it was removed while journeys waited there)"
        )
    return None


def failed_run(
    runtime: Runtime, claimed: sql.ClaimedBatch, exc: Exception, now: datetime
) -> BatchReport:
    """A run of the claimed batch raised: hand it back for another attempt, or after the
    last attempt fail its journeys. The traceback is logged once per batch."""
    error = one_line(exc)
    where = f"object {claimed.object} of flow {claimed.flow}"
    if claimed.error is None:
        log.error("%s raised on batch %s", where, claimed.claim_id, exc_info=exc)
    if claimed.attempts >= MAX_ATTEMPTS:
        log.error(
            "%s failed batch %s %d times; its journeys fail: %s",
            where,
            claimed.claim_id,
            claimed.attempts,
            error,
        )
        return fail_claimed(runtime, claimed, f"failed: {error}", now)
    log.warning(
        "%s failed batch %s (attempt %d of %d), it runs again: %s",
        where,
        claimed.claim_id,
        claimed.attempts,
        MAX_ATTEMPTS,
        error,
    )
    with runtime.store.db.write() as conn:
        sql.lapse_claim(conn, claimed.claim_id, error, runtime.clock.now())
    return BatchReport(claimed.flow, claimed.object, 0, {}, now)


def gave_up(claimed: sql.ClaimedBatch) -> str:
    """The reason for a batch taken over after its last attempt (its worker died each time,
    or the error was recorded but the journeys not yet failed)."""
    error = claimed.error or "its worker stopped while running it"
    return f"failed: {error} ({claimed.attempts - 1} attempts)"


def fail_claimed(
    runtime: Runtime, claimed: sql.ClaimedBatch, reason: str, now: datetime
) -> BatchReport:
    """Every journey the claim still holds fails at the claimed object with ``reason``,
    and the claim ends."""
    flow = runtime.flows[claimed.flow]
    with runtime.store.db.write() as conn:
        if not sql.still_ours(conn, claimed.claim_id, runtime.owner):
            return BatchReport(claimed.flow, claimed.object, 0, {}, now)
        rows = sql.claimed_rows(conn, sql.claimed_ids(conn, claimed.claim_id))
        journeys = [
            Journey(r.id, {"system_id": r.customer_id}, r.data, r.entered_at, r.arrived_at, r.via)
            for r in rows
        ]
        routing = Routing()
        for journey in journeys:
            routing.fail(journey, reason)
        passage = Passage(flow, claimed.claim_id, now, {r.id: r.release_id for r in rows})
        passage.route(claimed.object, journeys, routing, None)
        passage.apply(conn)
    for report in passage.reports:
        for listener in runtime.on_batch:
            listener(report)
    return passage.reports[0]


def retrying(
    journeys: Sequence[Journey],
    object_id: str,
    exc: TransientError,
    settings: RetrySettings,
    now: datetime,
) -> Routing:
    """A transient failure of an object with ``retries`` / ``backoff`` (a connection lost):
    its journeys are held for another try, their tries counted in their data, or fail once
    the last try failed (``failed: ... after 4 tries over 1m10s``)."""
    routing = Routing()
    for journey in journeys:
        tries = tries_so_far(journey.data, object_id).then(1, now)
        if tries.made > settings.retries:
            routing.fail(journey, f"failed: {exc} {tries.over(now)}")
        else:
            until = now + settings.wait(tries.made, asked=exc.later)
            routing.hold(journey, until, data=tries.record(object_id))
    return routing
