"""The HTTP test kit: a real HTTP server on 127.0.0.1 (the standard library's
ThreadingHTTPServer) that records every request and answers with planned statuses, bodies,
headers and delays; and ``Campaign``, a flow run by the real runtime on a virtual clock."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from sqlalchemy import select

from engine.http.client import HttpClient
from engine.model.flow import load_flow
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.explain import journeys_of
from engine.runtime.runner import Runtime
from engine.sdk.effects import Effects
from engine.store import Store
from engine.store.customers import find_ids, upsert_customers
from engine.store.models import CUSTOMERS, EVENTS


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
    at: float = field(default_factory=time.monotonic)  # when it arrived

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


START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# Most tests run on SQLite only; those that exercise the store harder run on PostgreSQL too.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def flow_yaml(name: str, obj: dict[str, Any]) -> str:
    """A flow that selects everyone into the object ``name`` (``obj``: its settings)."""
    objects = {"everyone": {"type": "selection", "next": name}, name: obj}
    return yaml.safe_dump({"objects": objects}, sort_keys=False)


ALLOW_PRIVATE = "timezone: UTC\nprofile: {first_name: str, birthday: date, crm_id: str}\n" + (
    "http: {allow_private: true}\n"
)


class Campaign:
    """One flow of a project run by the real runtime on a virtual clock, with the production
    HTTP client (``client``) as its HTTP sink."""

    def __init__(
        self,
        project: Project,
        store: Store,
        flow: str,
        customers: list[dict[str, Any]],
        *,
        batch_size: int | None = None,
        owner: str = "test",
    ) -> None:
        self.project, self.store = project, store
        self.flow = load_flow(project.flows_dir / f"{flow}.yaml", project)
        self.clock = VirtualClock(START)
        self.client = HttpClient.for_project(project, clock=self.clock)
        self.runtime = Runtime(
            store,
            [self.flow],
            self.clock,
            Effects(http=self.client),
            owner=owner,
            batch_size=batch_size,
        )
        if customers:
            with store.db.write() as conn:
                upsert_customers(conn, customers, key="external_id", project=project, now=START)

    def run(self) -> None:
        self.runtime.start(self.flow.name)
        self.runtime.fire_due()
        self.runtime.run_until_idle()

    def close(self) -> None:
        self.client.close()

    def labels(self) -> dict[int, str]:
        with self.store.db.read() as conn:
            rows = conn.execute(select(CUSTOMERS.c.system_id, CUSTOMERS.c.external_id))
            return {r.system_id: r.external_id for r in rows}

    def steps(self, object_id: str) -> dict[str, tuple[str | None, str]]:
        """Per customer, the (output, reason) of its step at ``object_id``."""
        labels = self.labels()
        with self.store.db.read() as conn:
            views = journeys_of(conn, flow=self.flow.name)
        return {
            labels[v.customer_id]: (s.output, s.reason)
            for v in views
            for s in v.steps
            if s.object == object_id
        }

    def events(self, kind: str) -> list[Any]:
        with self.store.db.read() as conn:
            return list(
                conn.execute(select(EVENTS).where(EVENTS.c.kind == kind).order_by(EVENTS.c.id))
            )

    def customer(self, external_id: str) -> dict[str, Any]:
        with self.store.db.read() as conn:
            [system_id] = find_ids(conn, "external_id", [external_id]).values()
        return self.store.customers([system_id])[system_id]


def customers(count: int) -> list[dict[str, Any]]:
    return [
        {"external_id": f"C{i:04d}", "email": f"c{i:04d}@example.com", "first_name": f"Ann{i}"}
        for i in range(1, count + 1)
    ]
