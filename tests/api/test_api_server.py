"""The app behind a real uvicorn server on 127.0.0.1: the webhook happy path, the body cap
(declared and chunked), health, and access logs that hold no secrets."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator

import httpx
import pytest
from api_helpers import Server, order_payload, shopify_signature


def test_webhook_happy_path_over_http(server: Server) -> None:
    answer = httpx.post(
        f"{server.url}/webhooks/orders",
        json=order_payload(),
        headers={"Authorization": f"Bearer {server.setup.token}"},
    )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["records"]) == 3
    health = httpx.get(f"{server.url}/healthz")
    assert health.json()["status"] == "ok"


def test_oversize_body_answers_413_over_http(server: Server) -> None:
    big = json.dumps({"pad": "x" * 50_000}).encode()
    answer = httpx.post(
        f"{server.url}/webhooks/orders",
        content=big,
        headers={"Authorization": f"Bearer {server.setup.token}"},
    )
    assert answer.status_code == 413


def test_chunked_oversize_body_answers_413_over_http(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(50):
            yield b"x" * 1000

    answer = httpx.post(
        f"{server.url}/webhooks/orders",
        content=chunks(),
        headers={"Authorization": f"Bearer {server.setup.token}"},
    )
    assert answer.status_code == 413


def test_declared_length_is_refused_before_the_body_is_sent(server: Server) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /webhooks/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n"
        )
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")


def test_access_log_is_json_without_secrets(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps({"id": 1, "email": "s@example.com", "customer": {"id": 7}}).encode()
    signature = shopify_signature(body)
    with caplog.at_level(logging.INFO, logger="sluis.access"):
        httpx.post(
            f"{server.url}/webhooks/orders?token=querysecret",
            json=order_payload(),
            headers={"Authorization": f"Bearer {server.setup.token}"},
        )
        httpx.post(
            f"{server.url}/webhooks/shopify",
            content=body,
            headers={"X-Shopify-Hmac-Sha256": signature},
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "sluis.access"]
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["path"] == "/webhooks/orders" and first["status"] == 200
    assert first["user"] == "shop" and first["method"] == "POST"
    text = "\n".join(lines)
    for secret in (server.setup.token, "querysecret", signature):
        assert secret not in text
