"""Hostile input at the edges (issue 21): every probe of the report as a regression test, on
SQLite and PostgreSQL where the databases differ. No answer is a 500, nothing is stored from a
refused call, and every refusal names its reason."""

from __future__ import annotations

import base64
import json
import sqlite3

import pytest
from api_helpers import Setup, order_payload, standard_headers
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from api.errors import lost_race
from engine.errors import StoreUnavailable, StoreValueRejected
from engine.model.fields import convert
from engine.model.sizes import MAX_EMAIL, MAX_EVENT_ID, MAX_EXTERNAL_ID, MAX_RECORD_KEY
from engine.store.db import database_error
from engine.store.models import CUSTOMERS, WEBHOOK_DELIVERIES

TOO_BIG = 9223372036854775808  # 2**63: one more than a 64-bit integer holds


def _customers(setup: Setup) -> int:
    with setup.store.db.read() as conn:
        table = CUSTOMERS
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _locs(answer: object) -> list[list[object]]:
    return [p["loc"] for p in answer.json()["detail"]]  # type: ignore[attr-defined]


# -- 1. integers out of range -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "body", "loc"),
    [
        ("/api/v1/flows/orders/start", {"customers": [TOO_BIG]}, ["body", "customers", 0]),
        ("/api/v1/groups/vip/members", {"add": [TOO_BIG]}, ["body", "add", 0]),
        ("/api/v1/datamodel/orders", {"customer_id": TOO_BIG, "data": {}}, ["body", "customer_id"]),
    ],
)
def test_integers_beyond_64_bits_answer_422_naming_the_field(
    setup: Setup, url: str, body: dict[str, object], loc: list[object]
) -> None:
    setup.api.post("/api/v1/groups", json={"name": "vip"})
    method = "PATCH" if url.endswith("/members") else "POST"
    answer = setup.api.request(method, url, json=body)
    assert answer.status_code == 422, answer.text
    assert loc in _locs(answer)


def test_an_integer_profile_field_beyond_64_bits_answers_422(setup: Setup) -> None:
    answer = setup.api.post(
        "/api/v1/customers", json={"external_id": "C1", "newsletter": True, "first_name": 1}
    )
    assert answer.status_code == 201, answer.text
    answer = setup.api.post(
        "/api/v1/datamodel/lines", json={"data": {"line_id": "L", "qty": TOO_BIG}}
    )
    assert answer.status_code == 422, answer.text
    assert "out of range" in answer.text


# -- 2. crafted cursors ---------------------------------------------------------------------


def _cursor(*values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/customers",
        "/api/v1/datamodel/orders",
        "/api/v1/groups/vip/members",
    ],
)
@pytest.mark.parametrize("place", [99999999999999999999999, -1])
def test_a_cursor_out_of_range_answers_422(setup: Setup, url: str, place: int) -> None:
    setup.api.post("/api/v1/groups", json={"name": "vip"})
    answer = setup.api.get(url, params={"cursor": _cursor(place)})
    assert answer.status_code == 422, answer.text
    assert ["query", "cursor"] in _locs(answer)


def test_an_events_cursor_out_of_range_answers_422(setup: Setup) -> None:
    cursor = _cursor("2026-01-01T00:00:00+00:00", 2**64)
    answer = setup.api.get("/api/v1/events", params={"cursor": cursor})
    assert answer.status_code == 422, answer.text


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_times_past_the_years_utc_holds_answer_422(setup: Setup, at: str) -> None:
    for params in ({"since": at}, {"until": at}, {"cursor": _cursor(at, 5)}):
        answer = setup.api.get("/api/v1/events", params=params)
        assert answer.status_code == 422, (params, answer.text)
    with pytest.raises(ValueError, match="out of range: in UTC it is outside years 1-9999"):
        convert(at, "datetime")  # a datetime field of a customer or record


def test_repeated_query_filters_are_bounded(setup: Setup) -> None:
    many = [("kind", f"k{n}") for n in range(21)]
    answer = setup.api.get("/api/v1/events", params=many)
    assert answer.status_code == 422, answer.text
    assert ["query", "kind"] in _locs(answer)
    answer = setup.api.get("/api/v1/datamodel/orders", params=[("filter", "status=paid")] * 11)
    assert answer.status_code == 422, answer.text


# -- 3. deep JSON ---------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [40, 5000])
@pytest.mark.parametrize("url", ["/webhooks/orders", "/api/v1/customers"])
def test_json_nested_too_deep_answers_400_naming_the_limit(
    setup: Setup, url: str, depth: int
) -> None:
    body = '{"customer": ' + "[" * depth + "]" * depth + "}"
    answer = setup.api.post(url, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert "nested deeper than 32 levels" in answer.json()["detail"]
    assert "api.max_json_depth" in answer.json()["detail"]
    assert _customers(setup) == 0


# -- 4. lone surrogates ---------------------------------------------------------------------


def test_a_lone_surrogate_in_a_webhook_answers_422_and_stores_nothing(setup: Setup) -> None:
    body = json.dumps(order_payload()).replace('"Ann"', '"\\ud800"')
    answer = setup.api.post(
        "/webhooks/orders", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert ["body", "customer", "first_name"] in _locs(answer)
    assert "lone UTF-16 surrogate" in answer.text
    assert _customers(setup) == 0


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ('{"external_id": "C1", "first_name": "\\udfff"}', ["body", "first_name"]),
        ('{"external_id": "\\ud800x"}', ["body", "external_id"]),
        ('{"external_id": "C1", "\\ud83d": 1}', ["body", "\\ud83d"]),
    ],
)
def test_a_lone_surrogate_in_a_rest_body_answers_422_and_stores_nothing(
    setup: Setup, body: str, loc: list[str]
) -> None:
    answer = setup.api.post(
        "/api/v1/customers", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert loc in _locs(answer)
    assert _customers(setup) == 0


def test_a_surrogate_pair_is_one_character_and_is_stored(setup: Setup) -> None:
    body = '{"external_id": "C1", "first_name": "\\ud83d\\ude00"}'
    answer = setup.api.post(
        "/api/v1/customers", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["first_name"] == "\U0001f600"


# -- 5. the lone call's retry ---------------------------------------------------------------
# (two servers racing on PostgreSQL: tests/api/test_api_two_servers.py)


# -- 6. lengths: the same limits on both databases, never a 503 -----------------------------


@pytest.mark.parametrize(
    ("field", "limit"), [("external_id", MAX_EXTERNAL_ID), ("email", MAX_EMAIL)]
)
def test_a_customer_field_longer_than_its_limit_answers_422(
    setup: Setup, field: str, limit: int
) -> None:
    value = "x" * (limit - 12) + "@example.com"
    ok = setup.api.post(f"/api/v1/customers?key={field}", json={field: value})
    assert ok.status_code == 201, ok.text
    long = "é" * 3000 + "@example.com"  # 6 KB in UTF-8, past PostgreSQL's index row limit
    answer = setup.api.post(f"/api/v1/customers?key={field}", json={field: long})
    assert answer.status_code == 422, answer.text
    assert f"at most {limit} are stored" in answer.text
    assert ["body", field] in _locs(answer)


def test_a_long_event_id_or_record_key_answers_422_not_503(setup: Setup) -> None:
    answer = setup.api.post("/webhooks/orders", json=order_payload(event="e" * 3000))
    assert answer.status_code == 422, answer.text
    assert f"at most {MAX_EVENT_ID} are stored" in answer.text
    answer = setup.api.post("/webhooks/orders", json=order_payload(order="o" * 3000))
    assert answer.status_code == 422, answer.text
    assert f"at most {MAX_RECORD_KEY} are stored" in answer.text
    assert _customers(setup) == 0


@pytest.mark.parametrize(
    ("url", "body", "loc"),
    [
        ("/api/v1/customers", '{"external_id": "a\\u0000b"}', ["body", "external_id"]),
        (
            "/api/v1/datamodel/orders",
            '{"data": {"order_id": "O\\u0000"}}',
            ["body", "data", "order_id"],
        ),
        ("/api/v1/groups", '{"name": "vip\\u0000"}', ["body", "name"]),
    ],
)
def test_nul_in_a_column_of_its_own_answers_422_on_both_databases(
    setup: Setup, url: str, body: str, loc: list[str]
) -> None:
    answer = setup.api.post(url, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert loc in _locs(answer)


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("orig", "passing"),
    [
        (_PgError("54000"), False),  # index row size exceeds maximum: a value, not an outage
        (_PgError("42P01"), False),
        (_PgError("08006"), True),  # connection failure
        (_PgError("57P01"), True),  # admin shutdown
        (_PgError("53300"), True),  # too many connections
        (_PgError("40P01"), True),  # deadlock
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("too many SQL variables"), False),
    ],
)
def test_only_passing_database_errors_are_transient(orig: Exception, passing: bool) -> None:
    judged = database_error(OperationalError("SELECT 1", {}, orig))
    assert isinstance(judged, StoreUnavailable) is passing
    if getattr(orig, "sqlstate", "").startswith("54"):  # an index row too big: the value's fault
        assert isinstance(judged, StoreValueRejected)


def test_a_taken_unique_value_is_a_lost_race() -> None:
    taken = IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert lost_race(database_error(taken))
    assert lost_race(database_error(OperationalError("INSERT", {}, _PgError("23505"))))
    assert not lost_race(database_error(OperationalError("SELECT 1", {}, _PgError("08006"))))


# -- 7. the smaller ones --------------------------------------------------------------------


def test_405_and_options_name_every_method_of_the_path(setup: Setup) -> None:
    answer = setup.api.request("PUT", "/api/v1/customers")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, OPTIONS, POST"
    assert "use one of: GET, OPTIONS, POST" in answer.json()["detail"]
    answer = setup.api.request("OPTIONS", "/api/v1/customers/1")
    assert answer.status_code == 204
    assert answer.headers["allow"] == "DELETE, GET, OPTIONS, PATCH"


def test_the_openapi_document_declares_its_security_schemes(setup: Setup) -> None:
    document = setup.api.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}
    assert {"bearer": []} in document["paths"]["/api/v1/customers"]["get"]["security"]
    assert "400" in document["paths"]["/api/v1/customers"]["post"]["responses"]


def test_text_plain_on_a_webhook_answers_415(setup: Setup) -> None:
    answer = setup.api.post(
        "/webhooks/orders",
        content=json.dumps(order_payload()),
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 415, answer.text
    assert "Content-Type: application/json" in answer.json()["detail"]
    assert _customers(setup) == 0


def test_a_large_invalid_body_draws_a_small_answer(sqlite_setup: Setup) -> None:
    bad = {"customers": ["x"] * 2000}
    answer = sqlite_setup.api.post("/api/v1/flows/orders/start", json=bad)
    assert answer.status_code == 422
    assert len(answer.content) < 5000
    assert answer.json()["detail"][-1]["msg"] == "and 1980 more problems not listed"


def test_too_many_payloads_in_one_call_answer_413(sqlite_setup: Setup) -> None:
    payloads: list[dict[str, str]] = [{}] * 1001
    answer = sqlite_setup.client(None).post("/webhooks/contacts", json=payloads, auth=("x", "nope"))
    assert answer.status_code == 401  # strangers do not learn the limit
    _, token = sqlite_setup.make_token("hooks", webhook="contacts")
    answer = sqlite_setup.client(token).post("/webhooks/contacts", json=payloads)
    assert answer.status_code == 413, answer.text
    assert "at most 1000 per call (api.max_payloads" in answer.json()["detail"]


def test_headers_over_the_limit_answer_431(sqlite_setup: Setup) -> None:
    answer = sqlite_setup.api.get("/api/v1/customers", headers={"X-Big": "x" * 20_000})
    assert answer.status_code == 431
    assert "api.max_header_bytes" in answer.json()["detail"]
    answer = sqlite_setup.api.get("/api/v1/customers", params={"email": "x" * 20_000})
    assert answer.status_code == 431  # the URL counts too


def test_standard_webhooks_id_makes_a_retry_a_duplicate(setup: Setup) -> None:
    body = json.dumps({"data": {"email": "ann@example.com"}}).encode()
    first = setup.api.post("/webhooks/standard", content=body, headers=standard_headers(body))
    again = setup.api.post("/webhooks/standard", content=body, headers=standard_headers(body))
    other = setup.api.post(
        "/webhooks/standard", content=body, headers=standard_headers(body, event_id="msg_2")
    )
    assert [a.status_code for a in (first, again, other)] == [200, 200, 200]
    assert first.json()["items"][0]["event_id"] == "msg_1"
    assert again.json()["items"][0]["duplicate"] is True
    assert again.json()["journeys"] == first.json()["journeys"]
    assert other.json()["items"][0]["duplicate"] is False
    with setup.store.db.read() as conn:
        table = WEBHOOK_DELIVERIES
        assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 2
