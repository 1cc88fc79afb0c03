"""Failed journeys through the API: ``POST /api/v1/flows/{flow}/retry`` puts them back, and a
webhook redelivery whose first delivery's journey failed retries that journey instead of
answering "duplicate". The journeys call a real HTTP target on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import yaml
from api_helpers import Api, Setup
from http_target import HttpTarget, Reply
from sqlalchemy import select

from api.app import create_app
from engine.http.client import HttpClient
from engine.model.flow import load_flows
from engine.model.project import Project
from engine.runtime.clock import SystemClock
from engine.runtime.runner import Runtime
from engine.sdk.effects import Effects
from engine.store import Store
from engine.store.models import JOURNEYS

SETTINGS = "timezone: UTC\nprofile: {first_name: str}\nhttp: {allow_private: true}\n"


def _shop(target: HttpTarget) -> str:
    objects = {
        "order": {
            "type": "webhook",
            "endpoint": "shop",
            "key": "external_id",
            "map": {"customer.id": "external_id", "customer.email": "email"},
            "dedupe": "event_id",
            "next": "confirm",
        },
        "confirm": {"type": "http-request", "url": target.url("/confirm"), "retries": 0},
    }
    return yaml.safe_dump({"reentry": "always", "objects": objects}, sort_keys=False)


def _setup(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store], target: HttpTarget
) -> tuple[Setup, Runtime, HttpClient]:
    project = make_project(SETTINGS, {"shop": _shop(target)})
    store = store_for(project)
    flows, problems = load_flows(project)
    assert not problems
    client = HttpClient.for_project(project)
    runtime = Runtime(store, flows, SystemClock(), Effects(http=client), owner="worker")
    runtime.start("shop")
    app = create_app(project, store)
    setup = Setup(project, store, app, "", Api(app))
    _, token = setup.make_token("shop", service=True)
    setup.token, setup.api = token, Api(app, token)
    return setup, runtime, client


def _states(setup: Setup) -> list[tuple[str, str]]:
    with setup.store.db.read() as conn:
        rows = conn.execute(select(JOURNEYS).order_by(JOURNEYS.c.id))
        return [(r.state, r.object) for r in rows]


def _payload(event: str, customer: str) -> dict[str, object]:
    return {"event_id": event, "customer": {"id": customer, "email": f"{customer.lower()}@x.nl"}}


def test_a_redelivery_retries_the_failed_journey_instead_of_answering_duplicate(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store], target: HttpTarget
) -> None:
    setup, runtime, client = _setup(make_project, store_for, target)
    target.plan("/confirm", Reply(503))
    first = setup.api.post("/webhooks/shop", json=_payload("e1", "C1"))
    assert first.status_code == 200, first.text
    runtime.run_until_idle()
    assert _states(setup) == [("finished", "confirm")]  # ended through 'failed'
    again = setup.api.post("/webhooks/shop", json=_payload("e1", "C1"))
    item = again.json()["items"][0]
    assert (item["duplicate"], item["retried"]) == (False, True)
    assert item["journeys"] == first.json()["journeys"]  # the same journey, no new one
    runtime.run_until_idle()
    assert len(target.to("/confirm")) == 2
    keys = {r.headers["idempotency-key"] for r in target.to("/confirm")}
    assert len(keys) == 1  # the same call, recognisable by the receiver
    third = setup.api.post("/webhooks/shop", json=_payload("e1", "C1")).json()["items"][0]
    assert (third["duplicate"], third["retried"]) == (True, False)  # it went through now
    runtime.run_until_idle()
    assert len(target.to("/confirm")) == 2
    client.close()


def test_the_retry_route_puts_failed_journeys_back(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store], target: HttpTarget
) -> None:
    setup, runtime, client = _setup(make_project, store_for, target)
    target.plan("/confirm", Reply(500), Reply(500), Reply(500))
    answers = [setup.api.post("/webhooks/shop", json=_payload(f"e{i}", f"C{i}")) for i in range(3)]
    runtime.run_until_idle()
    ids = answers[0].json()["customers"]
    wrong = setup.api.post("/api/v1/flows/shop/retry", json={"object": "nope"})
    assert wrong.status_code == 422 and "no object 'nope'" in wrong.text
    assert setup.api.post("/api/v1/flows/nope/retry", json={}).status_code == 404
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    none = setup.api.post("/api/v1/flows/shop/retry", json={"since": later}).json()
    assert none == {"flow": "shop", "retried": 0, "objects": {}}
    one = setup.api.post("/api/v1/flows/shop/retry", json={"customers": ids}).json()
    assert one == {"flow": "shop", "retried": 1, "objects": {"confirm": 1}}
    rest = setup.api.post("/api/v1/flows/shop/retry", json={"object": "confirm"}).json()
    assert rest["retried"] == 2
    runtime.run_until_idle()
    assert len(target.to("/confirm")) == 6
    assert setup.api.post("/api/v1/flows/shop/retry", json={}).json()["retried"] == 0
    client.close()
