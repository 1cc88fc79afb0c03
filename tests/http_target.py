"""A real HTTP server on 127.0.0.1 for tests (the standard library's ThreadingHTTPServer): it
records every request and answers with planned statuses, bodies, headers and delays."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    """One planned answer."""

    status: int = 200
    json: Any = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Recorded:
    """One request as the server got it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpTarget:
    """``plan(path, *replies)`` queues answers for a path; once they are used up (or when none
    were planned) the path answers ``default``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.default = Reply(json={})
        self._plans: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                reply = target._record(
                    Recorded(
                        self.command,
                        parts.path,
                        parse_qs(parts.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                if reply.delay:
                    time.sleep(reply.delay)
                target._done()
                payload = reply.body or (
                    json.dumps(reply.json).encode() if reply.json is not None else b""
                )
                try:
                    self.send_response_only(reply.status)
                    headers = {
                        "Date": self.date_time_string(),
                        "Content-Length": str(len(payload)),
                        **reply.headers,
                    }
                    if reply.json is not None:
                        headers.setdefault("Content-Type", "application/json")
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def plan(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self._plans[path].extend(replies)

    def _record(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            plan = self._plans.get(request.path)
            return plan.popleft() if plan else self.default

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
