"""Token scopes per resource on the REST API (allowed and refused), and the users and tokens
API (scope admin)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import Setup

from engine.store import tokens as store_tokens

# per resource: a read and a write call
CALLS = {
    "customers": (("GET", "/api/v1/customers"), ("POST", "/api/v1/customers?key=email")),
    "datamodel": (("GET", "/api/v1/datamodel/orders"), ("POST", "/api/v1/datamodel/orders")),
    "groups": (("GET", "/api/v1/groups"), ("POST", "/api/v1/groups")),
    "flows": (("GET", "/api/v1/flows"), ("POST", "/api/v1/flows/contacts/start")),
}


def _scoped(setup: Setup, scopes: str, user: str = "scoped") -> str:
    now = datetime.now(UTC)
    with setup.store.db.write() as conn:
        if user not in {u for u in _names(conn)}:
            store_tokens.create_user(conn, user, service=True, now=now)
        return store_tokens.create_token(conn, user, now=now, scopes=scopes)[1]


def _names(conn: object) -> list[str]:
    from sqlalchemy import select

    return list(conn.execute(select(store_tokens.U.name)).scalars())  # type: ignore[attr-defined]


@pytest.mark.parametrize("resource", sorted(CALLS))
def test_scopes_per_resource(sqlite_setup: Setup, resource: str) -> None:
    (read_method, read_url), (write_method, write_url) = CALLS[resource]
    reader = sqlite_setup.client(_scoped(sqlite_setup, f"{resource}:read"))
    writer = sqlite_setup.client(_scoped(sqlite_setup, f"{resource}:write"))
    assert reader.request(read_method, read_url).status_code == 200
    refused = reader.request(write_method, write_url, json={})
    assert refused.status_code == 403
    assert f"may not write {resource}" in refused.json()["detail"]
    assert writer.request(read_method, read_url).status_code == 200
    assert writer.request(write_method, write_url, json={}).status_code != 403
    other = next(r for r in CALLS if r != resource)
    elsewhere = reader.request(*CALLS[other][0])
    assert elsewhere.status_code == 403 and f"may not read {other}" in elsewhere.json()["detail"]


def test_webhooks_need_the_webhooks_scope(sqlite_setup: Setup) -> None:
    reader = sqlite_setup.client(_scoped(sqlite_setup, "read"))
    refused = reader.post("/webhooks/contacts", json={"email": "a@example.com"})
    assert refused.status_code == 403 and "may not write webhooks" in refused.text
    hooks = sqlite_setup.client(_scoped(sqlite_setup, "webhooks:write"))
    assert hooks.post("/webhooks/contacts", json={"email": "a@example.com"}).status_code == 200


def test_users_and_tokens_api_needs_admin(sqlite_setup: Setup) -> None:
    assert sqlite_setup.api.get("/api/v1/users").status_code == 403  # read write: no admin
    admin = sqlite_setup.client(_scoped(sqlite_setup, "admin", "boss"))
    with sqlite_setup.store.db.write() as conn:
        store_tokens.create_user(
            conn, "ann", service=False, now=datetime.now(UTC) - timedelta(days=53)
        )
        store_tokens.create_token(conn, "ann", now=datetime.now(UTC))
    users = {u["name"]: u for u in admin.get("/api/v1/users").json()}
    assert users["ann"]["warning"].startswith("lapses in 7 day(s)")
    assert users["boss"]["last_used_at"] is not None and users["boss"]["warning"] is None
    tokens = admin.get("/api/v1/tokens").json()
    assert {t["user"]: t["warning"] for t in tokens}["ann"] == users["ann"]["warning"]
    assert admin.post("/api/v1/users/ann/deactivate").json()["state"] == "deactivated"
    assert admin.post("/api/v1/users/ann/reactivate").json()["state"] == "active"
    assert admin.delete("/api/v1/users/ann").json() == {"name": "ann", "tokens": 1}
    assert admin.delete("/api/v1/users/ann").status_code == 404


def test_a_deactivated_users_token_stops(sqlite_setup: Setup) -> None:
    admin = sqlite_setup.client(_scoped(sqlite_setup, "admin", "boss"))
    worker = sqlite_setup.client(_scoped(sqlite_setup, "read", "worker"))
    assert worker.get("/api/v1/groups").status_code == 200
    admin.post("/api/v1/users/worker/deactivate")
    assert worker.get("/api/v1/groups").status_code == 401
