"""``http-request`` end to end: a flow run by the real runtime on a virtual clock, calling a real
HTTP server on 127.0.0.1; routing, reasons, events and profile writes checked in the store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from http_target import (
    ALLOW_PRIVATE,
    SQLITE_ONLY,
    START,
    Campaign,
    HttpTarget,
    Reply,
    customers,
    flow_yaml,
)

import engine.store.journeys
from engine.errors import FlowError
from engine.model.flow import load_flow
from engine.runtime.replay import Replay
from engine.runtime.runner import Runtime
from engine.sdk.effects import Effects


def request(target: HttpTarget, **settings: Any) -> dict[str, Any]:
    return {
        "type": "http-request",
        "url": target.url("/crm/{{ customer.external_id }}"),
        **settings,
    }


def test_per_customer_calls_render_url_headers_and_json_fields(target, campaign):
    run = campaign(
        request(
            target,
            headers={"X-Name": "{{ customer.first_name }}"},
            fields={"email": "{{ customer.email }}", "source": "sluis", "n": 3},
        ),
        customers(3),
    )
    run.run()
    got = sorted(target.requests, key=lambda r: r.path)
    assert [(r.method, r.path) for r in got] == [("POST", f"/crm/C000{i}") for i in (1, 2, 3)]
    assert got[0].json() == {"email": "c0001@example.com", "source": "sluis", "n": 3}
    assert got[1].headers["x-name"] == "Ann2"
    assert got[1].headers["content-type"] == "application/json"
    assert len({r.headers["idempotency-key"] for r in got}) == 3
    assert run.steps("notify") == {f"C000{i}": ("ok", "ok: HTTP 200") for i in (1, 2, 3)}
    events = run.events("http_ok")
    assert len(events) == 3
    assert events[0].data == {
        "method": "POST",
        "url": target.url("/crm/C0001"),
        "status": 200,
        "tries": 1,
        "reason": "ok: HTTP 200",
    }


@SQLITE_ONLY
def test_get_sends_the_fields_as_query_string(target, campaign):
    run = campaign(
        request(target, method="get", fields={"id": "{{ customer.external_id }}", "q": "a b"}),
        customers(1),
    )
    run.run()
    [got] = target.requests
    assert (got.method, got.query, got.body) == ("GET", {"id": ["C0001"], "q": ["a b"]}, b"")
    assert run.steps("notify") == {"C0001": ("ok", "ok: HTTP 200")}


@SQLITE_ONLY
def test_form_format_sends_a_form_body(target, campaign):
    notify = request(
        target, method="PUT", format="form", fields={"name": "{{ customer.first_name }}"}
    )
    campaign(notify, customers(1)).run()
    [got] = target.requests
    assert (got.method, got.body) == ("PUT", b"name=Ann1")
    assert got.headers["content-type"] == "application/x-www-form-urlencoded"


@SQLITE_ONLY
def test_a_raw_body_is_sent_as_rendered(target, campaign):
    notify = request(
        target,
        method="PATCH",
        headers={"Content-Type": "application/xml"},
        body='<customer id="{{ customer.external_id }}"/>',
    )
    campaign(notify, customers(1)).run()
    [got] = target.requests
    assert (got.method, got.body) == ("PATCH", b'<customer id="C0001"/>')
    assert got.headers["content-type"] == "application/xml"


@SQLITE_ONLY
def test_delete_without_fields_sends_no_body(target, campaign):
    campaign(request(target, method="DELETE"), customers(1)).run()
    [got] = target.requests
    assert (got.method, got.body) == ("DELETE", b"")
    assert "content-type" not in got.headers


@SQLITE_ONLY
def test_a_batch_of_2500_makes_three_calls(target, campaign):
    notify = {
        "type": "http-request",
        "url": target.url("/bulk"),
        "batch": 1000,
        "fields": {"id": "{{ customer.external_id }}"},
    }
    run = campaign(notify, customers(2500), batch_size=2500)  # one batch, as a bucket releases
    run.run()
    arrays = sorted((r.json() for r in target.to("/bulk")), key=lambda a: a[0]["id"])
    assert [len(a) for a in arrays] == [1000, 1000, 500]
    assert [a[0] for a in arrays] == [{"id": "C0001"}, {"id": "C1001"}, {"id": "C2001"}]
    assert len({r.headers["idempotency-key"] for r in target.requests}) == 3
    assert set(run.steps("notify").values()) == {("ok", "ok: HTTP 200")}
    assert len(run.events("http_ok")) == 2500


@SQLITE_ONLY
def test_batches_are_chunked_in_order_with_arrays(target, campaign):
    notify = {
        "type": "http-request",
        "url": target.url("/bulk"),
        "batch": 2,
        "fields": {"id": "{{ customer.external_id }}"},
        "concurrency": 1,  # one call at a time: the planned answers go in order
    }
    target.plan("/bulk", Reply(200, json={}), Reply(422), Reply(200, json={}))
    run = campaign(notify, customers(5))
    run.run()
    assert [r.json() for r in target.to("/bulk")] == [
        [{"id": "C0001"}, {"id": "C0002"}],
        [{"id": "C0003"}, {"id": "C0004"}],
        [{"id": "C0005"}],
    ]
    steps = run.steps("notify")
    assert steps["C0003"] == steps["C0004"] == ("failed", "failed: HTTP 422")
    assert steps["C0005"] == ("ok", "ok: HTTP 200")


@SQLITE_ONLY
def test_4xx_and_5xx_route_to_failed_with_the_status(target, campaign):
    target.plan("/crm/C0001", Reply(404))
    target.plan("/crm/C0002", *[Reply(503)] * 3)
    run = campaign(request(target, retries=2, backoff="1s"), customers(3))
    run.run()
    assert run.steps("notify") == {
        "C0001": ("failed", "failed: HTTP 404"),
        "C0002": ("failed", "failed: HTTP 503 after 3 tries over 3s"),
        "C0003": ("ok", "ok: HTTP 200"),
    }
    assert len(target.to("/crm/C0002")) == 3
    assert [e.data["status"] for e in run.events("http_failed")] == [404, 503]


@SQLITE_ONLY
def test_retry_after_is_honoured_holding_the_journey_in_the_database(target, campaign):
    target.plan("/crm/C0001", Reply(429, headers={"Retry-After": "120"}), Reply(200, json={}))
    run = campaign(request(target), customers(1))
    run.run()
    assert run.steps("notify") == {}  # held, not waited for by the worker
    assert run.clock.now() == START
    run.clock.advance(timedelta(seconds=119))
    assert run.runtime.run_until_idle() == 0
    run.clock.advance(timedelta(seconds=1))
    run.runtime.run_until_idle()
    assert run.steps("notify") == {"C0001": ("ok", "ok: HTTP 200 after 2 tries over 2m")}


@SQLITE_ONLY
def test_a_timeout_fails_the_call(target, campaign):
    target.plan("/crm/C0001", Reply(200, json={}, delay=0.5))
    run = campaign(request(target, timeout=0.1, retries=0), customers(1))
    run.run()
    assert run.steps("notify") == {"C0001": ("failed", "failed: no answer within 0.1s")}


def test_save_stores_parts_of_the_answer_in_the_profile(target, campaign):
    target.plan("/crm/C0001", Reply(201, json={"id": "X-1", "n": 2}))
    target.plan("/crm/C0002", Reply(201, json={}))
    run = campaign(
        request(target, success=[201], save={"crm_id": "{{ response.json.id }}"}), customers(2)
    )
    run.run()
    assert run.customer("C0001")["crm_id"] == "X-1"
    assert run.customer("C0002")["crm_id"] is None
    assert run.steps("notify")["C0001"] == ("ok", "ok: HTTP 201")


@SQLITE_ONLY
def test_a_save_value_that_does_not_fit_fails_the_journey(target, make_project, store_for):
    settings = ALLOW_PRIVATE.replace("crm_id: str", "crm_id: int")
    target.plan("/crm/C0001", Reply(200, json={"id": "X-1"}))
    flow = flow_yaml("notify", request(target, save={"crm_id": "{{ response.json.id }}"}))
    project = make_project(settings, flows={"notify": flow})
    run = Campaign(project, store_for(project), "notify", customers(1))
    run.run()
    run.close()
    output, reason = run.steps("notify")["C0001"]
    assert output == "failed"
    assert reason.startswith("failed: HTTP 200, but save crm_id: expected a whole number")


@SQLITE_ONLY
def test_a_template_that_fails_for_one_customer_fails_only_that_journey(target, campaign):
    people = customers(2)
    people[0]["first_name"] = "5"
    n = "{{ 10 / (customer.first_name | int) }}"
    run = campaign(request(target, fields={"n": n}), people)
    run.run()
    steps = run.steps("notify")
    assert steps["C0001"] == ("ok", "ok: HTTP 200")
    assert steps["C0002"][0] == "failed" and "division by zero" in steps["C0002"][1]
    assert [r.path for r in target.requests] == ["/crm/C0001"]


@SQLITE_ONLY
def test_a_batched_template_that_fails_leaves_that_customer_out_of_the_array(target, campaign):
    people = customers(3)
    for person, name in zip(people, ["5", "0", "2"], strict=True):
        person["first_name"] = name
    n = "{{ 10 / (customer.first_name | int) }}"
    run = campaign(request(target, url=target.url("/bulk"), batch=10, fields={"n": n}), people)
    run.run()
    steps = run.steps("notify")
    assert steps["C0002"][0] == "failed" and "division by zero" in steps["C0002"][1]
    assert steps["C0001"] == steps["C0003"] == ("ok", "ok: HTTP 200")
    [sent] = target.requests
    assert sent.json() == [{"n": "2.0"}, {"n": "5.0"}]
    assert len(run.events("http_ok")) == 2


@SQLITE_ONLY
def test_headers_that_do_not_read_the_customer_are_sent_to_every_customer(target, campaign):
    notify = request(target, headers={"X-Flow": "{{ flow }}/{{ object }} {{ today }}"})
    run = campaign(notify, customers(3))
    run.run()
    assert {r.headers["x-flow"] for r in target.requests} == {"notify/notify 2026-01-05"}
    assert len(target.requests) == 3


@SQLITE_ONLY
def test_a_header_that_fails_for_everyone_fails_each_journey_by_its_output(target, campaign):
    run = campaign(request(target, headers={"X-Bad": "{{ 1 / 0 }}"}), customers(2))
    run.run()
    for output, reason in run.steps("notify").values():
        assert output == "failed"
        assert reason.startswith("failed: template '{{ 1 / 0 }}' failed: division by zero")
    assert target.requests == []


@SQLITE_ONLY
def test_secrets_in_headers_are_sent_but_never_shown(target, campaign, monkeypatch):
    monkeypatch.setenv("CRM_TOKEN", "tok-secret-123")
    people = customers(2)
    people[1]["first_name"] = "${CRM_TOKEN}"  # customer data is never resolved
    target.plan("/crm/C0001", Reply(401))
    notify = request(
        target,
        headers={"Authorization": "Bearer ${CRM_TOKEN}", "X-Name": "{{ customer.first_name }}"},
    )
    run = campaign(notify, people)
    run.run()
    first, second = sorted(target.requests, key=lambda r: r.path)
    assert first.headers["authorization"] == "Bearer tok-secret-123"
    assert second.headers["x-name"] == "${CRM_TOKEN}"
    shown = repr(run.steps("notify")) + repr(
        [e.data for e in run.events("http_ok") + run.events("http_failed")]
    )
    assert "tok-secret-123" not in shown
    assert run.steps("notify")["C0001"] == ("failed", "failed: HTTP 401")


@SQLITE_ONLY
def test_a_missing_secret_fails_the_batch_naming_the_variable(target, campaign, monkeypatch):
    monkeypatch.delenv("CRM_TOKEN", raising=False)
    run = campaign(request(target, headers={"Authorization": "Bearer ${CRM_TOKEN}"}), customers(1))
    run.run()
    assert run.steps("notify") == {
        "C0001": (
            None,
            "failed: object 'notify': header 'Authorization' reads ${CRM_TOKEN}, but "
            "CRM_TOKEN is not set; export it in the environment sluis runs in "
            "(export CRM_TOKEN=...)",
        )
    }
    assert target.requests == []


@SQLITE_ONLY
def test_without_allow_private_the_guard_fails_the_journeys(target, campaign):
    run = campaign(request(target), customers(1), settings="timezone: UTC\n")
    run.run()
    output, reason = run.steps("notify")["C0001"]
    assert output == "failed"
    assert reason.startswith("failed: refused to connect to 127.0.0.1 (loopback)")
    assert target.requests == []


@pytest.mark.parametrize("size", [1, 2])
def test_idempotency_keys_are_stable_when_a_batch_runs_again(target, campaign, monkeypatch, size):
    notify = request(target, batch=size, fields={"id": "{{ customer.external_id }}"})
    if size > 1:
        notify["url"] = target.url("/bulk")
    run = campaign(notify, customers(3))
    run.runtime.start("notify")
    run.runtime.fire_due()

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the worker died before it committed")

    with monkeypatch.context() as patch:
        patch.setattr(engine.store.journeys, "apply", crash)
        handed_back = run.runtime.run_batch()  # counted as a failed attempt on the claim
        assert handed_back is not None and handed_back.size == 0
    first = {r.body: r.headers["idempotency-key"] for r in target.requests}
    assert run.steps("notify") == {}  # nothing committed
    run.clock.advance(timedelta(minutes=6))  # the lease lapses
    rescuer = Runtime(run.store, [run.flow], run.clock, Effects(http=run.client), owner="b")
    assert rescuer.run_until_idle() == 1
    again = {r.body: r.headers["idempotency-key"] for r in target.requests[len(first) :]}
    assert len(first) == (3 if size == 1 else 2)
    assert again == first
    assert set(run.steps("notify").values()) == {("ok", "ok: HTTP 200")}


def test_replay_captures_calls_without_sending(target, make_project, tmp_path):
    notify = request(target, fields={"id": "{{ customer.external_id }}"})
    project = make_project(ALLOW_PRIVATE, flows={"notify": flow_yaml("notify", notify)})
    people = tmp_path / "people.csv"
    people.write_text("external_id,email\nC0001,c1@example.com\nC0002,c2@example.com\n")
    replay = Replay(
        project, load_flow(project.flows_dir / "notify.yaml", project), people, start=START
    )
    try:
        replay.run()
        document = replay.document()
    finally:
        replay.close()
    assert target.requests == []
    assert document["effects"]["http"] == [
        {
            "object": "notify",
            "method": "POST",
            "url": target.url(f"/crm/{c}"),
            "customers": [c],
            "at": "2026-01-05T09:00:00+00:00",
        }
        for c in ("C0001", "C0002")
    ]
    assert {j["steps"][-1]["reason"] for j in document["journeys"]} == {"ok: HTTP 200"}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"method": "GET", "batch": 10}, "GET sends fields in the query string"),
        ({"batch": 10, "format": "form"}, "batch > 1 sends a JSON array; use format: json"),
        ({"batch": 10, "body": "x"}, "a raw 'body' is rendered per customer"),
        (
            {"batch": 10, "save": {"crm_id": "{{ response.json.id }}"}},
            "'save' reads the answer per item",
        ),
        ({"headers": {"idempotency-key": "x"}}, "sluis sets Idempotency-Key"),
        ({"save": {"system_id": "{{ response.status }}"}}, "'system_id' cannot be set"),
        ({"save": {"crm": "{{ response.status }}"}}, "unknown customer field 'crm'"),
        ({"success": [200, 999]}, "999 is not an HTTP status code"),
    ],
)
def test_settings_that_cannot_work_are_validation_errors(make_project, settings, message):
    notify = {"type": "http-request", "url": "https://crm.example/{{ customer.external_id }}"}
    project = make_project(
        ALLOW_PRIVATE, flows={"notify": flow_yaml("notify", {**notify, **settings})}
    )
    with pytest.raises(FlowError, match="object 'notify'") as raised:
        load_flow(project.flows_dir / "notify.yaml", project)
    assert message in str(raised.value)


def test_a_batched_url_cannot_use_customer_values(make_project):
    notify = {"type": "http-request", "url": "https://crm.example/{{ customer.email }}", "batch": 5}
    project = make_project(ALLOW_PRIVATE, flows={"notify": flow_yaml("notify", notify)})
    with pytest.raises(FlowError, match="rendered once per call and cannot use customer or data"):
        load_flow(project.flows_dir / "notify.yaml", project)


def test_secrets_are_read_in_headers_only(make_project):
    notify = {"type": "http-request", "url": "https://crm.example/?key=${CRM_KEY}"}
    project = make_project(ALLOW_PRIVATE, flows={"notify": flow_yaml("notify", notify)})
    with pytest.raises(FlowError, match=r"secrets are read in headers only"):
        load_flow(project.flows_dir / "notify.yaml", project)


@pytest.mark.parametrize("kind", ["http-request", "api"])
@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://files.example/x", "gopher://x:70/1", "crm.example/x"]
)
def test_urls_that_are_not_http_are_validation_errors(make_project, kind, url):
    notify = {"type": kind, "url": url}
    project = make_project(ALLOW_PRIVATE, flows={"notify": flow_yaml("notify", notify)})
    with pytest.raises(FlowError, match="is not an http:// or https:// URL; sluis sends HTTP"):
        load_flow(project.flows_dir / "notify.yaml", project)
