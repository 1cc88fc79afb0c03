"""Sending an object's calls and routing its journeys by the outcome: the part that
``http-request`` and ``api`` share.

An object renders its calls (``Send``: a call and the journeys it speaks for) and hands them to
``deliver``, which sends them through the HTTP sink of the run's effects, records each call for
replay, leaves every journey by ``ok`` or ``failed`` with the outcome as its reason, and writes
an ``http_ok`` or ``http_failed`` event per customer with the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, timedelta
from functools import partial
from typing import Any

from engine.errors import EffectError
from engine.http.calls import CallPolicy, HttpCall, HttpOutcome, idempotency_key, mask
from engine.http.rates import TokenSource, chunk_size
from engine.model.fields import customer_label
from engine.model.retries import INLINE_WAIT, TRIES_KEY, Tries, tries_so_far
from engine.sdk.batch import Journey, Routing
from engine.sdk.context import RunContext
from engine.sdk.effects import HttpSink

DEFAULT_TIMEOUT = timedelta(seconds=30)
AfterOk = Callable[[Journey, HttpOutcome], str | None]


@dataclass(frozen=True)
class Send:
    """One call and the journeys it is made for (one, or a chunk of a batch)."""

    call: HttpCall
    journeys: Sequence[Journey]


def http_sink(ctx: RunContext) -> HttpSink:
    sink: HttpSink | None = ctx.effects.http
    if sink is None:
        raise EffectError(
            f"object '{ctx.object_id}' makes HTTP calls, but this runtime has no HTTP client; "
            "build its effects with production_effects(project) or replay_effects(folder)"
        )
    return sink


def call_policy(
    ctx: RunContext,
    *,
    timeout: timedelta | None,
    retries: int,
    backoff: timedelta | None = None,
    success: Sequence[int] | None = None,
    concurrency: int = 10,
    rate_limit: float | None = None,
) -> CallPolicy:
    """The policy of one object's calls; its rate limit is shared by the object's batches and
    by every worker on the database. With ``backoff`` (the object's setting) a wait longer
    than a few seconds holds the journey in the database instead of the worker."""
    return CallPolicy(
        timeout=(timeout or DEFAULT_TIMEOUT).total_seconds(),
        retries=retries,
        backoff=None if backoff is None else backoff.total_seconds(),
        hold_after=None if backoff is None else INLINE_WAIT.total_seconds(),
        success=frozenset(success) if success else None,
        concurrency=concurrency,
        rate_limit=rate_limit,
        name=f"{ctx.flow.name}/{ctx.object_id}",
        tokens=None if rate_limit is None else shared_tokens(ctx, rate_limit),
    )


def shared_tokens(ctx: RunContext, rate: float) -> TokenSource:
    """Takes rate-limit tokens from the object's bucket in the run's database."""
    from engine.store import limits  # the store loads when a call is made, not with the flow

    db, flow, object_id, capacity = ctx.store.db, ctx.flow.name, ctx.object_id, chunk_size(rate)

    def take(wanted: int, now: float) -> tuple[int, float]:
        return limits.take(
            db, flow, object_id, rate=rate, capacity=capacity, wanted=wanted, now=now
        )

    return take


def journey_key(ctx: RunContext, journey: Journey) -> str:
    """The ``Idempotency-Key`` of a per-customer call: stable per (journey, object)."""
    return idempotency_key(ctx.flow.name, ctx.object_id, "journey", journey.id)


def chunk_key(ctx: RunContext, journeys: Sequence[Journey]) -> str:
    """The ``Idempotency-Key`` of a batched call: stable per (object, the journeys of the
    chunk in order). A batch that runs again after a crash, or after its claim was handed
    back and taken anew, sends the same chunks with the same keys."""
    members = ",".join([str(j.id) for j in journeys])
    return idempotency_key(ctx.flow.name, ctx.object_id, "chunk", members)


def refuse(routing: Routing, journey: Journey, exc: Exception) -> None:
    """A journey whose call could not be made (a template failed, a URL is wrong)."""
    routing.leave(journey, "failed", f"failed: {exc}")


def deliver(
    ctx: RunContext,
    routing: Routing,
    sends: Sequence[Send],
    policy: CallPolicy,
    *,
    after_ok: AfterOk | None = None,
    sink: HttpSink | None = None,
) -> list[HttpOutcome]:
    """Send the calls, record them, and route their journeys by the outcome. ``after_ok`` may
    turn a journey whose call succeeded into a failure (``save`` could not store the answer) by
    returning the reason. ``sink`` replaces the run's HTTP sink (a connection's
    ``AuthorizedSink``)."""
    if not sends:
        return []
    from engine.store.events import EventRecord  # the store loads when calling

    flow, object_id, now = ctx.flow.name, ctx.object_id, ctx.now
    earlier = [_earlier(send, object_id) for send in sends]
    calls = [
        replace(s.call, tried=t.made, first_tried=t.first) if t.made else s.call
        for s, t in zip(sends, earlier, strict=True)
    ]
    try:
        outcomes = (sink or http_sink(ctx)).send_all(calls, policy)
    except EffectError as exc:  # a connection could not authorize: its token request failed
        outcomes = [HttpOutcome(False, None, 0, f"failed: {exc}") for _ in sends]
    at = ctx.now.astimezone(UTC).isoformat()
    events: list[EventRecord] = []
    for send, result, before in zip(sends, outcomes, earlier, strict=True):
        call = send.call
        if result.later is not None:  # a transient failure: try again later, held in the db
            until = now + timedelta(seconds=result.later)
            tries = Tries(result.tries, before.first or now).record(object_id)
            for journey in send.journeys:
                routing.hold(journey, until, data=tries)
            continue
        url = mask(call.url, call.secrets)
        ctx.effects.record("http", partial(_recorded, object_id, call.method, url, send, at))
        kind, output = ("http_ok", "ok") if result.ok else ("http_failed", "failed")
        data = {
            "method": call.method,
            "url": url,
            "status": result.status,
            "tries": result.tries,
            "reason": result.reason,
        }
        leave, reason = routing.leave, result.reason
        if after_ok is not None and result.ok:
            for journey in send.journeys:
                problem = after_ok(journey, result)
                if problem is None:
                    leave(journey, output, reason)
                else:
                    leave(journey, "failed", mask(problem, call.secrets))
        else:
            routing.leave_all(send.journeys, output, reason)
        events += [
            EventRecord(kind, now, journey.customer["system_id"], flow, object_id, journey.id, data)
            for journey in send.journeys
        ]
    ctx.events.add(events)
    return outcomes


def _earlier(send: Send, object_id: str) -> Tries:
    """The tries made for a call's journeys in earlier batches (the most of them, for a chunk;
    the first try's time of the earliest)."""
    if not any(TRIES_KEY in j.data for j in send.journeys):  # the usual case: first tries
        return Tries(0, None)
    found = [tries_so_far(j.data, object_id) for j in send.journeys]
    made = max((t.made for t in found), default=0)
    firsts = [t.first for t in found if t.first is not None]
    return Tries(made, min(firsts) if firsts else None)


def _recorded(object_id: str, method: str, url: str, send: Send, at: str) -> dict[str, Any]:
    """A call as replay lists it (made only in replay: labels cost nothing in production)."""
    return {
        "object": object_id,
        "method": method,
        "url": url,
        "customers": [customer_label(j.customer) for j in send.journeys],
        "at": at,
    }
