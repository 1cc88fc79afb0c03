"""The shared ``retries`` / ``backoff`` settings (DESIGN.md 8) against a real HTTP target on
127.0.0.1: a transient failure holds the journey in the database (the worker does not wait),
tries are counted across batches, the idempotency key stays the same, and the last failure
says how many tries over how long."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from http_target import SQLITE_ONLY, START, HttpTarget, Reply, customers
from sqlalchemy import select

from engine.store.models import JOURNEYS


def _held(run: Any) -> list[tuple[str, Any]]:
    table = JOURNEYS
    with run.store.db.read() as conn:
        return [(r.state, r.ready_at) for r in conn.execute(select(table))]


def test_fails_twice_then_succeeds_held_in_the_database(target: HttpTarget, campaign: Any) -> None:
    target.plan("/crm", Reply(503), Reply(502), Reply(200, json={}))
    run = campaign({"type": "http-request", "url": target.url("/crm")}, customers(1))
    run.run()
    assert len(target.to("/crm")) == 1
    assert run.clock.now() == START  # the worker did not sleep on the 10s backoff
    [(state, ready)] = _held(run)
    assert state == "active" and START + timedelta(seconds=10) <= ready
    assert ready <= START + timedelta(seconds=12.5)
    assert run.steps("notify") == {}
    run.clock.advance(timedelta(seconds=13))
    run.runtime.run_until_idle()
    assert len(target.to("/crm")) == 2
    [(_, ready)] = _held(run)
    assert ready - run.clock.now() >= timedelta(seconds=20)  # doubled
    run.clock.advance(timedelta(seconds=26))
    run.runtime.run_until_idle()
    assert len(target.to("/crm")) == 3
    assert run.steps("notify") == {"C0001": ("ok", "ok: HTTP 200 after 3 tries over 39s")}
    assert len({r.headers["idempotency-key"] for r in target.to("/crm")}) == 1
    [event] = run.events("http_ok")
    assert event.data["tries"] == 3


@SQLITE_ONLY
def test_the_last_try_fails_the_journey_with_tries_and_time(
    target: HttpTarget, campaign: Any
) -> None:
    target.plan("/crm", *[Reply(503)] * 5)
    notify = {"type": "http-request", "url": target.url("/crm"), "retries": 3, "backoff": "20s"}
    run = campaign(notify, customers(1))
    run.run()
    for _ in range(3):
        [(_, ready)] = _held(run)
        run.clock.advance(ready - run.clock.now())
        run.runtime.run_until_idle()
    assert len(target.to("/crm")) == 4
    [(output, reason)] = run.steps("notify").values()
    assert output == "failed"
    assert reason.startswith("failed: HTTP 503 after 4 tries over 2m")


@SQLITE_ONLY
def test_permanent_failures_fail_at_once(target: HttpTarget, campaign: Any) -> None:
    target.plan("/crm", Reply(422))
    run = campaign({"type": "http-request", "url": target.url("/crm")}, customers(1))
    run.run()
    assert run.steps("notify") == {"C0001": ("failed", "failed: HTTP 422")}
    assert len(target.to("/crm")) == 1


@SQLITE_ONLY
def test_short_backoffs_are_waited_out_within_the_batch(target: HttpTarget, campaign: Any) -> None:
    target.plan("/crm", Reply(503), Reply(429), Reply(200, json={}))
    notify = {"type": "api", "url": target.url("/crm"), "backoff": "1s"}
    run = campaign(notify, customers(1), name="signal")
    run.run()
    assert run.steps("signal") == {"C0001": ("ok", "ok: HTTP 200 after 3 tries over 3s")}
    assert len(target.to("/crm")) == 3
