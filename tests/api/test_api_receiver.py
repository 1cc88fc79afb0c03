"""How the webhook receiver takes many calls at once: the plain ASGI receiver answers as the
documented FastAPI route does, calls that arrive together are written in one transaction
(group commit) yet each gets its own ids and its own errors, nothing is answered before it is
committed, and a token is checked once however many calls bring it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from api_helpers import Setup, order_payload
from fastapi import FastAPI
from sqlalchemy import Connection, Table, func, select, update

from api import deps
from api.app import create_app
from api.batching import Call, Outcome, write_together
from api.routes.webhooks import Receiver
from engine.errors import StoreUnavailable
from engine.store.models import CUSTOMERS, JOURNEYS, TOKENS, WEBHOOK_DELIVERIES
from engine.webhooks.receive import FlowNotStarted, ItemReceipt, map_body

Posted = tuple[str, Any, dict[str, str]]


def _count(setup: Setup, table: Table) -> int:
    with setup.store.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _together(app: FastAPI, posts: Sequence[Posted]) -> list[httpx.Response]:
    """POST all at once, from one event loop, as concurrent callers do."""

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sluis") as client:
            return list(
                await asyncio.gather(
                    *(client.post(url, json=body, headers=headers) for url, body, headers in posts)
                )
            )

    return asyncio.run(go())


def _batches(app: FastAPI) -> list[int]:
    """Record the number of calls in each transaction of the app's group writer."""
    writer = app.state.webhook_writer
    sizes: list[int] = []
    write = writer.write

    def counted(calls: Sequence[Call]) -> list[Outcome]:
        sizes.append(len(calls))
        return write(calls)

    writer.write = counted
    return sizes


def _call(setup: Setup, endpoint: str, payload: Any) -> Call:
    found = setup.app.state.sluis.webhooks[endpoint]
    return Call(found, map_body(found.spec, payload, setup.project), None)  # type: ignore[arg-type]


# -- the receiver and the documented route --------------------------------------------------------


def _route_only(setup: Setup) -> FastAPI:
    """The app without the receiver in front, so FastAPI's route answers the calls."""
    app = create_app(setup.project, setup.store)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not Receiver]
    return app


def test_receiver_and_route_answer_alike(sqlite_setup: Setup) -> None:
    setup = sqlite_setup
    route = _route_only(setup)
    bearer = {"Authorization": f"Bearer {setup.token}"}
    first = setup.client(None).post("/webhooks/orders", json=order_payload("e1"), headers=bearer)
    again = _together(route, [("/webhooks/orders", order_payload("e1"), bearer)])[0]
    assert first.status_code == again.status_code == 200, again.text
    expected = first.json()
    expected["items"][0]["duplicate"] = True
    assert again.json() == expected
    assert again.headers["content-type"] == "application/json"
    for url, body, headers in [
        ("/webhooks/nope", {}, bearer),  # 404
        ("/webhooks/orders", order_payload("e2"), {}),  # 401 without a token
        ("/webhooks/orders", {"event_id": "e3"}, bearer),  # 422, the payload's problems
    ]:
        via_receiver = setup.client(None).post(url, json=body, headers=headers)
        via_route = _together(route, [(url, body, headers)])[0]
        assert via_receiver.status_code == via_route.status_code >= 400
        assert via_receiver.json() == via_route.json()
        assert via_receiver.headers.get("www-authenticate") == via_route.headers.get(
            "www-authenticate"
        )


def test_other_calls_on_webhook_paths_are_fastapis(sqlite_setup: Setup) -> None:
    api = sqlite_setup.api
    assert api.get("/webhooks/orders").status_code == 405
    assert api.post("/webhooks/" + "x" * 201, json={}).status_code == 422
    assert api.post("/webhooks/orders", content=b"{not json").status_code == 422


# -- group commit ------------------------------------------------------------------------------


def test_calls_that_arrive_together_are_written_together_with_their_own_ids(
    setup: Setup,
) -> None:
    sizes = _batches(setup.app)
    bearer = {"Authorization": f"Bearer {setup.token}"}
    posts = [
        ("/webhooks/orders", order_payload(f"e{n}", customer=f"C{n % 5}", order=f"O{n}"), bearer)
        for n in range(20)
    ]
    answers = _together(setup.app, posts)
    assert [a.status_code for a in answers] == [200] * 20, answers[0].text
    assert max(sizes) > 1 and sum(sizes) == 20
    bodies = [a.json() for a in answers]
    journeys = [j for b in bodies for j in b["journeys"]]
    records = [r for b in bodies for r in b["records"]]
    assert len(set(journeys)) == 20 and len(set(records)) == 60  # an order and two lines each
    customer_of: dict[str, int] = {}
    for n, body in enumerate(bodies):
        assert body["items"][0]["event_id"] == f"e{n}"
        assert customer_of.setdefault(f"C{n % 5}", body["customers"][0]) == body["customers"][0]
    assert len(set(customer_of.values())) == 5
    assert _count(setup, CUSTOMERS) == 5 and _count(setup, JOURNEYS) == 20
    with setup.store.db.read() as conn:
        owners = dict(conn.execute(select(JOURNEYS.c.id, JOURNEYS.c.customer_id)).all())
    assert all(owners[b["journeys"][0]] == b["customers"][0] for b in bodies)


def test_a_failing_call_does_not_fail_the_others_of_its_batch(setup: Setup) -> None:
    state = setup.app.state.sluis
    calls = [
        _call(setup, "orders", order_payload("a", customer="CA", order="OA")),
        _call(setup, "paused", {"id": "P1"}),  # its flow is not started
        _call(setup, "orders", order_payload("b", customer="CB", order="OB")),
    ]
    first, failed, last = write_together(state, calls)
    assert isinstance(failed, FlowNotStarted)
    assert isinstance(first, list) and isinstance(last, list)
    assert first[0].customer != last[0].customer
    assert _count(setup, JOURNEYS) == 2 and _count(setup, CUSTOMERS) == 2


def test_one_event_twice_in_a_batch_is_stored_once(setup: Setup) -> None:
    state = setup.app.state.sluis
    calls = [
        _call(setup, "orders", order_payload("same", order="O1")),
        _call(setup, "orders", order_payload("other", order="O2")),
        _call(setup, "orders", order_payload("same", order="O1")),
    ]
    outcomes = write_together(state, calls)
    first, other, again = (o[0] for o in outcomes if isinstance(o, list))
    assert not first.duplicate and not other.duplicate and again.duplicate
    assert (again.customer, again.records, again.journeys) == (
        first.customer,
        first.records,
        first.journeys,
    )
    assert other.journeys != first.journeys
    assert _count(setup, JOURNEYS) == 2 and _count(setup, WEBHOOK_DELIVERIES) == 2
    # and a later delivery of it answers the same ids
    later = write_together(state, calls[:1])[0]
    assert isinstance(later, list) and later[0] == ItemReceipt(
        "same", first.customer, first.records, first.journeys, True
    )


def test_nothing_is_answered_before_its_transaction_commits(
    sqlite_setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = sqlite_setup
    state = setup.app.state.sluis
    write = state.write

    @contextmanager
    def failing_commit() -> Iterator[Connection]:
        with write() as conn:
            yield conn
            raise StoreUnavailable("the database is unavailable or busy: disk I/O error")

    monkeypatch.setattr(state, "write", failing_commit)
    bearer = {"Authorization": f"Bearer {setup.token}"}
    posts = [("/webhooks/orders", order_payload(f"e{n}", order=f"O{n}"), bearer) for n in range(5)]
    answers = _together(setup.app, posts)
    assert [a.status_code for a in answers] == [503] * 5
    assert _count(setup, JOURNEYS) == 0 and _count(setup, WEBHOOK_DELIVERIES) == 0


# -- token checks ------------------------------------------------------------------------------


def test_calls_with_one_token_wait_for_one_check(
    sqlite_setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = sqlite_setup
    _, token = setup.make_token(webhook="orders")
    checks: list[str] = []
    check = deps.check_token

    def counted(conn: Connection, secret: str, now: Any) -> Any:
        checks.append(secret)
        return check(conn, secret, now)

    monkeypatch.setattr(deps, "check_token", counted)
    bearer = {"Authorization": f"Bearer {token}"}
    posts = [("/webhooks/orders", order_payload(f"e{n}", order=f"O{n}"), bearer) for n in range(8)]
    assert [a.status_code for a in _together(setup.app, posts)] == [200] * 8
    assert checks == [token]
    wrong = {"Authorization": "Bearer sluis_wrong"}
    answers = _together(setup.app, [("/webhooks/orders", order_payload(), wrong)] * 4)
    assert [a.status_code for a in answers] == [401] * 4
    assert checks == [token, "sluis_wrong"]


def test_a_revoked_token_stops_within_the_check_interval(
    sqlite_setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = sqlite_setup
    _, token = setup.make_token(webhook="orders")
    now = [1000.0]
    monkeypatch.setattr(deps, "monotonic", lambda: now[0])
    client = setup.client(token)
    assert client.post("/webhooks/orders", json=order_payload("e1")).status_code == 200
    with setup.store.db.write() as conn:
        conn.execute(update(TOKENS).values(revoked_at=datetime.now(UTC)))
    now[0] += deps.TOKEN_TTL + 0.01
    answer = client.post("/webhooks/orders", json=order_payload("e2"))
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"]
