"""``api`` end to end: one JSON notification per customer to a real server on 127.0.0.1, through
the real runtime on a virtual clock."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from http_target import (
    ALLOW_PRIVATE,
    SQLITE_ONLY,
    Reply,
    customers,
    flow_yaml,
)

from engine.errors import FlowError
from engine.model.flow import load_flow


@pytest.fixture
def run_api(campaign: Any) -> Any:
    """Run a flow that selects everyone into an api object ``signal``."""

    def run(signal: dict[str, Any], people: list[dict[str, Any]], settings: str = ALLOW_PRIVATE):
        made = campaign(signal, people, name="signal", settings=settings)
        made.run()
        return made

    return run


def test_each_customer_is_posted_as_json_with_flow_object_customer_and_data(target, run_api):
    people = customers(2)
    people[0]["birthday"] = date(1990, 4, 1)
    run = run_api(
        {
            "type": "api",
            "url": target.url("/signal/{{ customer.external_id }}"),
            "headers": {"X-Flow": "{{ flow }}"},
        },
        people,
    )
    got = sorted(target.requests, key=lambda r: r.path)
    assert [(r.method, r.path) for r in got] == [
        ("POST", "/signal/C0001"),
        ("POST", "/signal/C0002"),
    ]
    body = got[0].json()
    assert set(body) == {"flow", "object", "customer", "data"}
    assert (body["flow"], body["object"], body["data"]) == ("signal", "signal", {})
    customer = body["customer"]
    assert customer["external_id"] == "C0001" and customer["email"] == "c0001@example.com"
    assert customer["birthday"] == "1990-04-01"  # JSON-safe
    assert isinstance(customer["system_id"], int)
    assert got[0].headers["content-type"] == "application/json"
    assert got[0].headers["x-flow"] == "signal"
    assert got[0].headers["idempotency-key"] != got[1].headers["idempotency-key"]
    assert run.steps("signal") == {"C0001": ("ok", "ok: HTTP 200"), "C0002": ("ok", "ok: HTTP 200")}
    assert len(run.events("http_ok")) == 2


@SQLITE_ONLY
def test_errors_route_to_failed_after_the_retries(target, run_api):
    target.plan("/signal/C0001", *[Reply(500)] * 3)
    target.plan("/signal/C0002", Reply(400))
    run = run_api(
        {
            "type": "api",
            "url": target.url("/signal/{{ customer.external_id }}"),
            "retries": 2,
            "backoff": "1s",
        },
        customers(2),
    )
    assert run.steps("signal") == {
        "C0001": ("failed", "failed: HTTP 500 after 3 tries over 3s"),
        "C0002": ("failed", "failed: HTTP 400"),
    }
    assert len(run.events("http_failed")) == 2


@SQLITE_ONLY
def test_the_guard_applies_to_api_calls(target, run_api):
    run = run_api({"type": "api", "url": target.url("/signal")}, customers(1), "timezone: UTC\n")
    output, reason = run.steps("signal")["C0001"]
    assert output == "failed" and "refused to connect to 127.0.0.1 (loopback)" in reason
    assert target.requests == []


@SQLITE_ONLY
def test_secret_headers_are_sent_and_masked(target, run_api, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3cr3t-value")
    target.plan("/signal", Reply(503), Reply(503))
    run = run_api(
        {
            "type": "api",
            "url": target.url("/signal"),
            "headers": {"X-Hook-Secret": "${HOOK_SECRET}"},
            "retries": 1,
            "backoff": "1s",
        },
        customers(1),
    )
    assert {r.headers["x-hook-secret"] for r in target.requests} == {"s3cr3t-value"}
    assert "s3cr3t-value" not in repr(run.steps("signal")) + repr(run.events("http_failed"))


def test_an_own_idempotency_key_header_is_a_validation_error(make_project):
    signal = {"type": "api", "url": "https://x.example/", "headers": {"Idempotency-Key": "1"}}
    project = make_project(ALLOW_PRIVATE, flows={"signal": flow_yaml("signal", signal)})
    with pytest.raises(FlowError, match="sluis sets Idempotency-Key on every request"):
        load_flow(project.flows_dir / "signal.yaml", project)
