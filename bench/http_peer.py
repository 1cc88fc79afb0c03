"""The benchmarks' HTTP peer: a tiny ASGI app on uvicorn that reads each request, counts it,
and answers ``200 {}``. ``GET /count`` answers how many requests came in (and starts over).

Run: ``python -m bench.http_peer PORT``."""

from __future__ import annotations

import sys
from typing import Any

import uvicorn

_count = 0
_OK = [(b"content-type", b"application/json"), (b"content-length", b"2")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _count
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    if scope["path"] == "/count":
        body, _count = str(_count).encode(), 0
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    _count += 1
    await send({"type": "http.response.start", "status": 200, "headers": _OK})
    await send({"type": "http.response.body", "body": b"{}"})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        backlog=4096,
        timeout_keep_alive=300,  # idle pooled connections stay open between the phases
    )
