"""Helpers of the HTTP API tests: the test project (flows with webhooks), a client of the
real ASGI app, tokens, signed bodies and payloads."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from engine.model.project import Project
from engine.store import Store
from engine.store import tokens as store_tokens

SHOPIFY_SECRET = "shpss_test_secret"
STANDARD_KEY = b"standard-webhooks-test-key-0123456789"
STANDARD_SECRET = "whsec_" + base64.b64encode(STANDARD_KEY).decode()

SETTINGS = """\
timezone: UTC
profile:
  first_name: str
  newsletter: bool
  birthday: date
datamodel:
  orders:
    key: order_id
    fields: {order_id: str, total: decimal, status: str}
  lines:
    key: line_id
    fields: {line_id: str, sku: str, qty: int}
api:
  max_body_bytes: 20000
"""
FLOWS = {
    "orders": """\
        reentry: always
        objects:
          order-placed:
            type: webhook
            endpoint: orders
            key: external_id
            map:
              customer.id: external_id
              customer.email: email
              customer.first_name: first_name
            records:
              - collection: orders
                path: order
                map: {id: order_id, total: total, status: status}
              - collection: lines
                path: order.lines
                map: {id: line_id, sku: sku, qty: qty}
            dedupe: event_id
            next: done
          done:
            type: end
    """,
    "contacts": """\
        objects:
          signup:
            type: webhook
            endpoint: contacts
            auth: basic
            key: email
            map: {email: email, name: first_name, newsletter: newsletter}
            next: done
          done:
            type: end
    """,
    "shopify": """\
        reentry: always
        objects:
          shop-order:
            type: webhook
            endpoint: shopify
            auth:
              type: hmac-sha256
              header: X-Shopify-Hmac-Sha256
              secret: ${SHOPIFY_SECRET}
            map: {customer.id: external_id, email: email}
            records:
              collection: orders
              path: .
              map: {id: order_id, total_price: total}
            dedupe: id
    """,
    "standard": """\
        objects:
          event:
            type: webhook
            endpoint: standard
            key: email
            auth:
              type: hmac-sha256
              style: standard-webhooks
              secret: ${STANDARD_SECRET}
            map: {data.email: email}
    """,
    "paused": """\
        objects:
          hook:
            type: webhook
            endpoint: paused
            map: {id: external_id}
    """,
}
STARTED = ("orders", "contacts", "shopify", "standard")


class Api:
    """A client of the real ASGI app (httpx's ASGI transport, no network)."""

    def __init__(self, app: FastAPI, token: str | None = None) -> None:
        self.app = app
        self.token = token

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", None) or {})
        if self.token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sluis") as client:
                answer = await client.request(method, url, headers=headers, **kw)
            await self.app.state.sluis.settle()  # before this loop ends, as the app's shutdown
            return answer

        return asyncio.run(go())

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def patch(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PATCH", url, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", url, **kw)


@dataclass
class Setup:
    project: Project
    store: Store
    app: FastAPI
    token: str  # a general token of a service account
    api: Api

    def make_token(
        self,
        user: str = "shop",
        *,
        webhook: str | None = None,
        service: bool = True,
        expires_at: datetime | None = None,
    ) -> tuple[int, str]:
        now = datetime.now(UTC)
        with self.store.db.write() as conn:
            if (
                conn.execute(
                    store_tokens.select(store_tokens.U.id).where(store_tokens.U.name == user)
                ).first()
                is None
            ):
                store_tokens.create_user(conn, user, service=service, now=now)
            return store_tokens.create_token(
                conn, user, now=now, webhook=webhook, expires_at=expires_at
            )

    def client(self, token: str | None) -> Api:
        return Api(self.app, token)


def shopify_signature(body: bytes, secret: str = SHOPIFY_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def standard_headers(
    body: bytes, *, event_id: str = "msg_1", at: float | None = None, key: bytes = STANDARD_KEY
) -> dict[str, str]:
    stamp = str(int(at if at is not None else time.time()))
    signed = f"{event_id}.{stamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": event_id,
        "webhook-timestamp": stamp,
        "webhook-signature": f"v1,{signature}",
        "Content-Type": "application/json",
    }


def order_payload(event: str = "evt-1", customer: str = "C1", order: str = "O1") -> dict[str, Any]:
    return {
        "event_id": event,
        "customer": {
            "id": customer,
            "email": f"{customer.lower()}@example.com",
            "first_name": "Ann",
        },
        "order": {
            "id": order,
            "total": "12.50",
            "status": "paid",
            "lines": [
                {"id": f"{order}-1", "sku": "A", "qty": 1},
                {"id": f"{order}-2", "sku": "B", "qty": 2},
            ],
        },
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    setup: Setup
