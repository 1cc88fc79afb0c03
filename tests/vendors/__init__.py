"""Local stand-ins of vendor APIs: real HTTP servers on 127.0.0.1 that answer with the
request and response shapes, paging and error codes of each vendor's public API reference,
and check tokens and signatures the way the vendor does. Each module names the pages it
follows. ``fail_next`` makes the next calls to a path fail (a vendor outage mid-way)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Call:
    """One request as the stand-in got it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, [default])[0]


@dataclass
class Answer:
    status: int = 200
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


class StandIn:
    """A threaded HTTP server on 127.0.0.1; subclasses answer in ``answer(call)``."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.failures: dict[str, list[int]] = {}
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                call = Call(
                    self.command,
                    parts.path,
                    parse_qs(parts.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                answer = stand_in._answer(call)
                data = answer.body
                if data is None:
                    data = b"" if answer.json is None else json.dumps(answer.json).encode()
                self.send_response(answer.status)
                headers = {"Content-Type": "application/json", **answer.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, path: str, *statuses: int) -> None:
        """The next calls to ``path`` answer these statuses (a 5xx outage, a 429)."""
        with self.lock:
            self.failures.setdefault(path, []).extend(statuses)

    def _answer(self, call: Call) -> Answer:
        with self.lock:
            self.calls.append(call)
            planned = self.failures.get(call.path)
            status = planned.pop(0) if planned else None
        if status is not None:
            return Answer(status, {"message": f"planned failure {status}"})
        try:
            return self.answer(call)
        except Exception as exc:  # a bug in the stand-in shows in the test, not as a hang
            return Answer(500, {"message": f"stand-in error: {exc!r}"})

    def answer(self, call: Call) -> Answer:
        raise NotImplementedError

    def to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token if scheme.lower() == "bearer" and token else None
