"""Validation of ``webhook`` objects: map targets, records, key and auth, reported at their
place in the flow file."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.errors import FlowError
from engine.model.flow import load_flow
from engine.model.project import Project

SETTINGS = """\
timezone: UTC
profile: {first_name: str}
datamodel:
  orders: {key: order_id, fields: {order_id: str, total: decimal}}
"""


def _load(make_project: Callable[..., Project], body: str) -> None:
    project = make_project(SETTINGS, {"hook": body})
    load_flow(project.flows_dir / "hook.yaml", project)


def _problem(make_project: Callable[..., Project], body: str) -> str:
    with pytest.raises(FlowError) as caught:
        _load(make_project, body)
    return str(caught.value)


def test_a_valid_webhook(
    make_project: Callable[..., Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(
        make_project,
        """\
        objects:
          hook:
            type: webhook
            endpoint: shop-orders
            map: {customer.id: external_id, customer.name: first_name}
            records: {collection: orders, path: order, map: {id: order_id, sum: total}}
            auth: {type: hmac-sha256, header: X-Sig, secret: "${SHOP_SECRET}", encoding: hex}
            dedupe: event.id
        """,
    )


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("map: {name: frist_name, id: external_id}", "unknown customer field 'frist_name'"),
        ("map: {name: first_name}", "map no payload path to 'external_id'"),
        ("key: phone\n    map: {id: external_id}", "key must be one of external_id"),
        (
            "map: {id: external_id}\n    records: {collection: ordres, path: o}",
            "no collection 'ordres' in the datamodel; did you mean 'orders'",
        ),
        (
            "map: {id: external_id}\n    records: {collection: orders, path: o, map: {x: totl}}",
            "'totl' is not a field of collection 'orders'",
        ),
        (
            "map: {id: external_id}\n    auth: {type: hmac-sha256, secret: plaintext}",
            "write the secret as ${VAR}",
        ),
        ("map: {id: external_id}\n    auth: {type: hmac-sha256}", "needs a secret"),
        ("endpoint: Bad/Name", "may hold only lowercase letters"),
    ],
)
def test_webhook_problems_are_reported(
    make_project: Callable[..., Project], setting: str, message: str
) -> None:
    body = "objects:\n  hook:\n    type: webhook\n"
    if not setting.startswith("endpoint"):
        body += "    endpoint: orders\n"
    body += f"    {setting}\n"
    assert message in _problem(make_project, body)
