"""The floor of a REST customer lookup: a hand-written ASGI app under the same uvicorn (one
worker, uvloop, httptools) that answers ``GET /api/v1/customers?email=...`` with one query of
the sluis database through sqlite3 (the same index, ``lower(email)``), the bearer token compared
with the one it was given, and the customer written with ``json.dumps``. No routing, no
middleware, no access log, no scopes: what any server must spend on the call.

Run as ``SLUIS_FLOOR_DB=... SLUIS_FLOOR_TOKEN=... uvicorn bench.lookup_floor:app``."""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any
from urllib.parse import parse_qsl

_DB = sqlite3.connect(os.environ.get("SLUIS_FLOOR_DB", ":memory:"), check_same_thread=False)
_AUTHORIZATION = f"Bearer {os.environ.get('SLUIS_FLOOR_TOKEN', '')}".encode()
_QUERY = (
    "SELECT system_id, external_id, email, profile, created_at, updated_at FROM customers "
    "WHERE lower(email) = ? ORDER BY system_id LIMIT 101"
)


async def _answer(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/healthz":  # for the bench to see it is up
        await _answer(send, 200, b"{}")
        return
    if dict(scope["headers"]).get(b"authorization") != _AUTHORIZATION:
        await _answer(send, 401, b'{"detail":"token"}')
        return
    email = dict(parse_qsl(scope["query_string"].decode())).get("email", "")
    items = []
    for system_id, external_id, address, profile, created, updated in _DB.execute(
        _QUERY, (email.strip().lower(),)
    ):
        item = {"system_id": system_id, "external_id": external_id, "email": address}
        items.append({**item, **json.loads(profile), "created_at": created, "updated_at": updated})
    await _answer(send, 200, json.dumps({"items": items, "next": None}).encode())
