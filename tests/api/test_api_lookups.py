"""Customer lookups by key served by ``api.lookups.Lookups`` in front of FastAPI: the same
answers as the FastAPI route gives, and every call it should not answer passed on to the
route (which answers errors)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from api_helpers import Setup

from api.lookups import Lookups
from engine.store import tokens as store_tokens


def _customers(setup: Setup) -> None:
    ids = []
    for n in range(3):
        body = {"external_id": f"C{n}", "email": f"Person{n}@Example.com", "first_name": "Anna"}
        made = setup.api.post("/api/v1/customers", json=body)
        assert made.status_code == 201
        ids.append(made.json()["system_id"])
    assert setup.api.post("/api/v1/groups", json={"name": "vip"}).status_code == 201
    added = setup.api.patch("/api/v1/groups/vip/members", json={"add": [ids[1]]})
    assert added.status_code == 200, added.text


@pytest.mark.parametrize(
    "query", ["email=person1%40example.com", "email=PERSON1@example.COM", "external_id=C1"]
)
def test_a_lookup_answers_as_the_route_does(setup: Setup, query: str) -> None:
    _customers(setup)
    served = setup.api.get(f"/api/v1/customers?{query}")
    # a second parameter sends the call on to the FastAPI route
    routed = setup.api.get(f"/api/v1/customers?{query}&limit=100")
    assert served.status_code == routed.status_code == 200
    assert served.headers["content-type"] == routed.headers["content-type"]
    assert served.json() == routed.json()
    (customer,) = served.json()["items"]
    assert customer["external_id"] == "C1" and customer["groups"] == ["vip"]
    assert served.json()["next"] is None


def test_no_match_is_an_empty_page(setup: Setup) -> None:
    _customers(setup)
    assert setup.api.get("/api/v1/customers?email=nobody@example.com").json() == {
        "items": [],
        "next": None,
    }


def _token(setup: Setup, scopes: str, user: str = "reader") -> str:
    now = datetime.now(UTC)
    with setup.store.db.write() as conn:
        store_tokens.create_user(conn, user, service=True, now=now)
        return store_tokens.create_token(conn, user, now=now, scopes=scopes)[1]


def test_refused_and_bad_calls_are_answered_by_the_route(sqlite_setup: Setup) -> None:
    _customers(sqlite_setup)
    anonymous = sqlite_setup.client(None).get("/api/v1/customers?email=person1@example.com")
    assert anonymous.status_code == 401 and "missing token" in anonymous.json()["detail"]
    wrong = sqlite_setup.client("sluis_nope").get("/api/v1/customers?external_id=C1")
    assert wrong.status_code == 401
    groups_only = sqlite_setup.client(_token(sqlite_setup, "groups:read"))
    refused = groups_only.get("/api/v1/customers?external_id=C1")
    assert refused.status_code == 403 and "may not read customers" in refused.json()["detail"]
    long = sqlite_setup.api.get("/api/v1/customers?external_id=" + "x" * 201)
    assert long.status_code == 422 and long.json()["detail"][0]["loc"] == ["query", "external_id"]
    misspelt = sqlite_setup.api.get("/api/v1/customers?emial=person1@example.com")
    assert misspelt.status_code == 422 and "unknown query parameter" in misspelt.text


def test_the_access_log_names_the_user(sqlite_setup: Setup, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="sluis.access")
    assert sqlite_setup.api.get("/api/v1/customers?external_id=C1").status_code == 200
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == "sluis.access"]
    assert line["user"] == "shop" and line["path"] == "/api/v1/customers"


def _passes_on(setup: Setup, method: str, path: str, query: bytes, token: str) -> bool:
    """Whether ``Lookups`` hands the call to the app behind it (else it answered itself)."""
    passed: list[bool] = []
    sent: list[dict[str, Any]] = []

    async def behind(scope: Any, receive: Any, send: Any) -> None:
        passed.append(True)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "app": setup.app,
    }
    asyncio.run(Lookups(behind)(scope, receive, send))
    assert bool(passed) != bool(sent)
    return bool(passed)


@pytest.mark.parametrize(
    ("method", "path", "query", "passed"),
    [
        ("GET", "/api/v1/customers", b"email=a%40b.nl", False),
        ("GET", "/api/v1/customers", b"external_id=C1", False),
        ("GET", "/api/v1/customers", b"email=a%40b.nl&limit=1", True),
        ("GET", "/api/v1/customers", b"email=a&email=b", True),
        ("GET", "/api/v1/customers", b"", True),
        ("GET", "/api/v1/customers", b"where=true", True),
        ("POST", "/api/v1/customers", b"email=a%40b.nl", True),
        ("GET", "/api/v1/customers/1", b"email=a%40b.nl", True),
        ("GET", "/api/v1/customers", b"email=" + b"a" * 321, True),
    ],
)
def test_which_calls_lookups_serves(
    sqlite_setup: Setup, method: str, path: str, query: bytes, passed: bool
) -> None:
    token = sqlite_setup.token
    assert _passes_on(sqlite_setup, method, path, query, token) is passed
    # a token that does not work: the route answers why
    assert _passes_on(sqlite_setup, method, path, query, "sluis_nope") is True


def test_a_revoked_token_stops_lookups_within_the_check_interval(
    sqlite_setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import update

    from api import deps
    from engine.store.models import TOKENS

    now = [1000.0]
    monkeypatch.setattr(deps, "monotonic", lambda: now[0])
    reader = sqlite_setup.client(_token(sqlite_setup, "customers:read"))
    assert reader.get("/api/v1/customers?external_id=C1").status_code == 200
    with sqlite_setup.store.db.write() as conn:  # as 'sluis token revoke' does, elsewhere
        conn.execute(update(TOKENS).values(revoked_at=datetime.now(UTC)))
    assert reader.get("/api/v1/customers?external_id=C1").status_code == 200  # checked just now
    now[0] += deps.TOKEN_TTL + 0.01
    answer = reader.get("/api/v1/customers?external_id=C1")
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"]


def test_a_token_in_use_is_checked_again_before_its_check_runs_out(
    sqlite_setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past half of ``TOKEN_TTL`` a call goes on with the check it has and starts the next
    one beside it, so a steady caller never waits for a check."""
    from api import deps

    now = [1000.0]
    checked: list[float] = []
    check = deps.check_token

    def counted(conn: Any, secret: str, moment: datetime) -> Any:
        checked.append(now[0])
        return check(conn, secret, moment)

    monkeypatch.setattr(deps, "monotonic", lambda: now[0])
    monkeypatch.setattr(deps, "check_token", counted)
    bearer = {"Authorization": f"Bearer {_token(sqlite_setup, 'customers:read')}"}
    state = sqlite_setup.app.state.sluis

    async def calls() -> list[int]:  # one event loop, as a server has
        transport = httpx.ASGITransport(app=sqlite_setup.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sluis") as client:

            async def lookup() -> int:
                answer = await client.get("/api/v1/customers?external_id=C1", headers=bearer)
                return answer.status_code

            statuses = [await lookup()]
            now[0] += deps.TOKEN_TTL * 0.4
            statuses.append(await lookup())  # fresh: not checked again
            now[0] += deps.TOKEN_TTL * 0.4
            statuses.append(await lookup())  # answered at once, and starts a check
            assert len(checked) == 1
            await state.settle()
            now[0] += deps.TOKEN_TTL * 0.4  # 1.2 TTL after the first check, 0.4 after the next
            statuses.append(await lookup())
            return statuses

    assert asyncio.run(calls()) == [200] * 4
    assert checked == [1000.0, 1000.0 + deps.TOKEN_TTL * 0.8]


def test_a_user_deactivated_through_the_api_stops_at_once(sqlite_setup: Setup) -> None:
    reader = sqlite_setup.client(_token(sqlite_setup, "customers:read"))
    assert reader.get("/api/v1/customers?email=a@example.com").status_code == 200
    admin = sqlite_setup.client(_token(sqlite_setup, "admin", user="admin"))
    assert admin.post("/api/v1/users/reader/deactivate").status_code == 200
    answer = reader.get("/api/v1/customers?email=a@example.com")
    assert answer.status_code == 401
