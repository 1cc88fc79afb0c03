"""The HTTP client against a real server on 127.0.0.1: answers, retries and Retry-After on the
virtual clock, timeouts, the size cap, concurrency and the rate limit."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from http_target import Reply

from engine.http.calls import CallPolicy, HttpAnswer, HttpCall, outcome
from engine.http.client import HttpClient
from engine.model.project import HttpSettings
from engine.runtime.clock import VirtualClock

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def client(clock: VirtualClock) -> Iterator[HttpClient]:
    settings = HttpSettings(allow_private=True, max_response_bytes=1000)
    with HttpClient(settings, clock=clock, rng=random.Random(7)) as made:
        yield made


def post(url: str, body: bytes = b'{"a":1}') -> HttpCall:
    return HttpCall(
        "POST", url, {"Content-Type": "application/json", "Idempotency-Key": "k1"}, body
    )


def waited(clock: VirtualClock) -> float:
    return (clock.now() - START).total_seconds()


def test_a_call_sends_its_request_and_reads_the_answer(target, client):
    target.plan("/crm", Reply(201, json={"id": "X9"}, headers={"X-Trace": "t1"}))
    result = client.send(post(target.url("/crm?src=sluis")), CallPolicy())
    assert (result.ok, result.status, result.tries, result.reason) == (True, 201, 1, "ok: HTTP 201")
    assert result.json == {"id": "X9"}
    assert result.headers["x-trace"] == "t1"
    [request] = target.requests
    assert (request.method, request.path, request.query) == ("POST", "/crm", {"src": ["sluis"]})
    assert request.headers["idempotency-key"] == "k1"
    assert request.json() == {"a": 1}


def test_5xx_is_tried_again_with_backoff_on_the_virtual_clock(target, client, clock):
    target.plan("/flaky", Reply(503), Reply(502), Reply(200, json={}))
    started = time.monotonic()
    result = client.send(post(target.url("/flaky")), CallPolicy(retries=3))
    assert (result.ok, result.tries, result.reason) == (True, 3, "ok: HTTP 200 after 3 tries")
    # backoff 0.5s then 1s, each scaled by a jitter factor between 1/2 and 1
    assert 0.75 <= waited(clock) <= 1.5
    assert time.monotonic() - started < 1.0  # the waits passed on the virtual clock
    assert len(target.to("/flaky")) == 3
    assert {r.headers["idempotency-key"] for r in target.to("/flaky")} == {"k1"}


def test_a_call_that_keeps_failing_reports_the_status_and_the_tries(target, client):
    target.plan("/down", *[Reply(503)] * 5)
    result = client.send(post(target.url("/down")), CallPolicy(retries=2))
    assert (result.ok, result.status) == (False, 503)
    assert result.reason == "failed: HTTP 503 after 3 tries"
    assert len(target.to("/down")) == 3


def test_retry_after_in_seconds_replaces_the_backoff(target, client, clock):
    target.plan("/busy", Reply(429, headers={"Retry-After": "120"}), Reply(200, json={}))
    result = client.send(post(target.url("/busy")), CallPolicy(retries=1))
    assert result.reason == "ok: HTTP 200 after 2 tries over 2m"
    assert waited(clock) == 120


def test_retry_after_as_an_http_date_counts_from_the_answers_date(target, client, clock):
    served = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # the server's clock, not ours
    headers = {
        "Date": format_datetime(served, usegmt=True),
        "Retry-After": format_datetime(served + timedelta(seconds=45), usegmt=True),
    }
    target.plan("/later", Reply(503, headers=headers), Reply(200, json={}))
    assert client.send(post(target.url("/later")), CallPolicy()).ok
    assert waited(clock) == 45


def test_a_retry_after_longer_than_sluis_waits_fails_at_once(target, client):
    target.plan("/tomorrow", Reply(503, headers={"Retry-After": "86400"}))
    result = client.send(post(target.url("/tomorrow")), CallPolicy(retries=3))
    assert not result.ok
    assert result.reason == ("failed: HTTP 503; Retry-After asks for a longer wait than 5m")
    assert len(target.to("/tomorrow")) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
def test_4xx_fails_without_another_try(target, client, status):
    target.plan("/bad", Reply(status, json={"error": "no"}))
    result = client.send(post(target.url("/bad")), CallPolicy(retries=3))
    assert (result.ok, result.reason) == (False, f"failed: HTTP {status}")
    assert len(target.to("/bad")) == 1


def test_success_codes_decide_what_is_ok(target, client):
    target.plan("/created", Reply(200, json={}), Reply(201, json={}))
    policy = CallPolicy(success=frozenset({201}), retries=0)
    assert client.send(post(target.url("/created")), policy).reason == "failed: HTTP 200"
    assert client.send(post(target.url("/created")), policy).reason == "ok: HTTP 201"


def test_a_slow_answer_times_out_and_is_tried_again(target, client):
    target.plan("/slow", Reply(200, json={}, delay=0.6), Reply(200, json={}, delay=0.6))
    started = time.monotonic()
    result = client.send(post(target.url("/slow")), CallPolicy(timeout=0.15, retries=1))
    assert not result.ok and result.status is None
    assert result.reason == "failed: no answer within 0.15s after 2 tries"
    assert time.monotonic() - started < 1.0


def test_an_answer_larger_than_the_cap_fails_with_the_setting_to_change(target, client):
    target.plan("/big", Reply(200, body=b"x" * 5000))
    result = client.send(post(target.url("/big")), CallPolicy(retries=3))
    assert not result.ok
    assert "larger than 1,000 bytes (http.max_response_bytes in sluis.yaml)" in result.reason
    assert len(target.to("/big")) == 1  # not tried again


def test_a_refused_connection_is_tried_again_then_fails(client, clock):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    result = client.send(post(f"http://127.0.0.1:{port}/"), CallPolicy(retries=2))
    assert not result.ok and result.tries == 3
    assert result.reason.startswith("failed: connection failed")
    assert result.reason.endswith("after 3 tries")
    assert waited(clock) > 0


def test_calls_run_at_most_concurrency_at_once(target, client):
    target.default = Reply(200, json={}, delay=0.05)
    calls = [post(target.url(f"/c/{i}")) for i in range(16)]
    results = client.send_all(calls, CallPolicy(concurrency=4))
    assert all(r.ok for r in results) and len(target.requests) == 16
    assert 2 <= target.max_in_flight <= 4


def test_the_global_concurrency_bounds_every_object(target, clock):
    target.default = Reply(200, json={}, delay=0.05)
    settings = HttpSettings(allow_private=True, concurrency=2)
    with HttpClient(settings, clock=clock) as client:
        calls = [post(target.url(f"/g/{i}")) for i in range(8)]
        assert all(r.ok for r in client.send_all(calls, CallPolicy(concurrency=50)))
    assert target.max_in_flight <= 2


def test_outcomes_come_back_in_the_order_of_the_calls(target, client):
    target.plan("/order/0", Reply(200, json={}, delay=0.1))
    target.plan("/order/2", Reply(404))
    calls = [post(target.url(f"/order/{i}")) for i in range(4)]
    results = client.send_all(calls, CallPolicy(concurrency=4, retries=0))
    assert [r.status for r in results] == [200, 200, 404, 200]


def test_the_rate_limit_spaces_calls_on_the_clock(target, client, clock):
    calls = [post(target.url(f"/r/{i}")) for i in range(5)]
    started = time.monotonic()
    results = client.send_all(calls, CallPolicy(rate_limit=2.0, name="flow/notify"))
    assert all(r.ok for r in results)
    assert waited(clock) == pytest.approx(2.0)  # starts at 0, 0.5, 1.0, 1.5, 2.0
    assert time.monotonic() - started < 2.0


def test_secrets_never_reach_a_reason():
    call = HttpCall("GET", "https://crm.example/", secrets=("tok-123",))
    answer = HttpAnswer(None, error="server said: bad token tok-123")
    result = outcome(answer, call, CallPolicy(), 1)
    assert result.reason == "failed: server said: bad token ***"
