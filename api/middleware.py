"""Plain ASGI middleware around the whole app: the header and body size caps (431 and 413
before anything parses a body) and structured access logs (one JSON line per request on the
``sluis.access`` logger, without headers, query strings, tokens or signatures)."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("sluis.access")


def _too_large(limit: int) -> str:
    return (
        f"the body is larger than {limit} bytes, the most this server takes; send less, or "
        "raise api.max_body_bytes in sluis.yaml"
    )


class BodyLimit:
    """Refuse headers over ``header_limit`` bytes in all (431), and bodies over ``limit``
    bytes: by Content-Length before reading, and while reading for bodies sent without one
    (chunked)."""

    def __init__(self, app: ASGIApp, limit: int, header_limit: int = 16_384) -> None:
        self.app = app
        self.limit = limit
        self.header_limit = header_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        size += len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if size > self.header_limit:
            await _answer(
                send,
                431,
                f"the URL and headers hold {size} bytes; this server takes at most "
                f"{self.header_limit} (api.max_header_bytes in sluis.yaml)",
            )
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _answer(send, 400, "the Content-Length header is not a number")
                    return
                if declared > self.limit:
                    await _answer(send, 413, _too_large(self.limit))
                    return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, _too_large(self.limit))
            return message

        await self.app(scope, limited, send)


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AccessLog:
    """One JSON line per request: time, method, path (no query), status, duration, bytes
    out, client address and the token's user when there was one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not access_log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        sent = 0

        async def watch(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            state: dict[str, Any] = scope.get("state") or {}
            client = scope.get("client")
            line = {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "ms": round((time.perf_counter() - start) * 1000, 2),
                "bytes": sent,
                "client": client[0] if client else None,
                "user": state.get("user"),
            }
            text = json.dumps(line, separators=(",", ":"))
            # a record made directly: Logger.info would also look up the calling source line
            # by walking the stack, a third of the cost of a line, and of no use here
            access_log.handle(
                access_log.makeRecord(access_log.name, logging.INFO, "", 0, text, (), None)
            )
