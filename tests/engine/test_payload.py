"""Mapping payloads to customers and records: paths, typing, and every problem at once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.model.project import Project
from engine.webhooks.payload import (
    PayloadError,
    PayloadMap,
    RecordsMap,
    lookup,
    map_payload,
    split_path,
)

SETTINGS = """\
timezone: UTC
profile: {first_name: str, vip: bool}
datamodel:
  orders: {key: order_id, fields: {order_id: str, total: decimal}}
"""
SPEC = PayloadMap(
    map={"c.id": "external_id", "c.name": "first_name", "c.vip": "vip"},
    key="external_id",
    records=(RecordsMap("orders", "orders", {"id": "order_id", "sum": "total"}),),
    dedupe="meta.event",
)


@pytest.fixture
def project(make_project: Callable[..., Project]) -> Project:
    return make_project(SETTINGS)


def test_paths() -> None:
    assert split_path("a.b.0.c") == ("a", "b", 0, "c")
    assert split_path(".") == ()
    assert lookup({"a": [{"b": 1}]}, ("a", 0, "b")) == 1
    assert lookup({"a": [1]}, ("a", 3)) is not None  # absent: the private marker, not None
    assert lookup({"a": None}, ("a",)) is None


def test_maps_customer_records_and_event_id(project: Project) -> None:
    payload = {
        "meta": {"event": 17},
        "c": {"id": "C1", "name": "Ann", "vip": "true", "ignored": 1},
        "orders": [{"id": "O1", "sum": "1.5"}, {"id": "O2"}],
    }
    mapped = map_payload(payload, SPEC, project)
    assert mapped.customer == {"external_id": "C1", "first_name": "Ann", "vip": True}
    assert [data["order_id"] for _, data in mapped.records] == ["O1", "O2"]
    assert mapped.event_id == "17"
    single = map_payload({**payload, "orders": {"id": "O3"}}, SPEC, project)
    assert [data["order_id"] for _, data in single.records] == ["O3"]


def test_reports_every_problem_with_its_path(project: Project) -> None:
    payload = {"c": {"vip": "maybe"}, "orders": [{"id": "O1", "sum": "x"}, {"sum": "1"}, 5]}
    with pytest.raises(PayloadError) as caught:
        map_payload(payload, SPEC, project, (3,))
    found = {(p.loc, p.kind) for p in caught.value.problems}
    assert found == {
        ((3, "c", "vip"), "wrong_type"),
        ((3, "c", "id"), "missing_key"),
        ((3, "orders", 0, "sum"), "wrong_type"),
        ((3, "orders", 1, "id"), "missing_key"),
        ((3, "orders", 2), "wrong_type"),
        ((3, "meta", "event"), "missing_event_id"),
    }


def test_without_a_map_payload_keys_are_fields(project: Project) -> None:
    spec = PayloadMap(map={}, key="email")
    assert map_payload({"email": "a@b.nl", "vip": 1}, spec, project).customer["vip"] is True
    with pytest.raises(PayloadError, match="unknown customer field 'frist_name'"):
        map_payload({"email": "a@b.nl", "frist_name": "A"}, spec, project)
