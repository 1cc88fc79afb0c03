"""``retry_failed``: failed journeys (and those ended through an unrouted ``failed`` output)
go back to the object where they failed; a mapped ``failed`` output is left alone."""

from __future__ import annotations

from typing import Any

import yaml
from http_target import ALLOW_PRIVATE, SQLITE_ONLY, Campaign, HttpTarget, Reply, customers

from engine.runtime.retry import failed_journeys, retry_failed


def _flow(target: HttpTarget, mapped: bool) -> str:
    push: dict[str, Any] = {"type": "http-request", "url": target.url("/crm"), "retries": 0}
    objects: dict[str, Any] = {"everyone": {"type": "selection", "next": "push"}, "push": push}
    if mapped:
        push["next"] = {"ok": "done", "failed": "done"}
        objects["done"] = {"type": "end"}
    return yaml.safe_dump({"objects": objects}, sort_keys=False)


@SQLITE_ONLY
def test_retry_puts_unrouted_failures_back_and_they_run_again(
    make_project: Any, store_for: Any, target: HttpTarget
) -> None:
    project = make_project(ALLOW_PRIVATE, flows={"crm": _flow(target, mapped=False)})
    run = Campaign(project, store_for(project), "crm", customers(3))
    target.plan("/crm", Reply(400), Reply(400), Reply(400))
    run.run()
    assert {c: s[0] for c, s in run.steps("push").items()} == dict.fromkeys(
        ["C0001", "C0002", "C0003"], "failed"
    )
    with run.store.db.read() as conn:
        assert len(failed_journeys(conn, run.flow)) == 3
    assert retry_failed(run.store, run.flow, run.clock.now(), object_id="other") == {}
    assert retry_failed(run.store, run.flow, run.clock.now()) == {"push": 3}
    run.runtime.run_until_idle()
    assert len(target.to("/crm")) == 6
    with run.store.db.read() as conn:
        assert failed_journeys(conn, run.flow) == []
    assert len(run.events("retried")) == 3
    run.close()


@SQLITE_ONLY
def test_a_mapped_failed_output_is_left_alone(
    make_project: Any, store_for: Any, target: HttpTarget
) -> None:
    project = make_project(ALLOW_PRIVATE, flows={"crm": _flow(target, mapped=True)})
    run = Campaign(project, store_for(project), "crm", customers(2))
    target.plan("/crm", Reply(400), Reply(400))
    run.run()
    assert retry_failed(run.store, run.flow, run.clock.now()) == {}
    run.close()
