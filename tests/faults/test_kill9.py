"""Kill -9 a worker at seeded random moments while customers go through selection -> split ->
wait -> bucket -> export -> http-request -> mail, against a real SMTP server (aiosmtpd) and a
real HTTP server on 127.0.0.1; start it again each time. Afterwards every customer finished
exactly once, every export row is there once, the HTTP server accepted each idempotency key
once, and no mail went out twice.

Size: ``SLUIS_FAULT_SCALE`` (1.0 = 5,000 customers and 50 kills; CI runs a bounded fraction)."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from engine.model.flow import find_flow
from engine.model.project import Project
from engine.runtime.clock import SystemClock
from engine.runtime.runner import Runtime
from engine.store import Store
from engine.store.customers import upsert_customers
from engine.store.models import JOURNEYS

SCALE = float(os.environ.get("SLUIS_FAULT_SCALE", "0.1"))
CUSTOMERS = max(200, int(5000 * SCALE))
KILLS = max(5, int(50 * SCALE))

FLOW = """
reentry: never
objects:
  everyone: {type: selection, next: by-country}
  by-country:
    type: split
    percent: {a: 50}
    next: {a: pause, otherwise: pause}
  pause: {type: wait, for: 1s, next: pool}
  pool: {type: bucket, size: 100, every: 2s, next: export}
  export:
    type: export
    to: "out/batch.csv"
    columns: [external_id, email]
    next: notify
  notify:
    type: http-request
    url: "http://127.0.0.1:%(http)d/hook"
    batch: 50
    retries: 2
    fields: {id: "{{ customer.external_id }}"}
    next: {ok: mail, failed: mail}
  mail:
    type: mail
    template: hello.html
    subject: "Hello {{ customer.external_id }}"
    track: false
    next: {sent: done, skipped: done}
  done: {type: end}
"""

WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from engine.model.flow import load_flows
    from engine.runtime.production import production_effects
    from engine.model.project import Project
    from engine.store import Store
    from engine.runtime.worker import Worker
    from datetime import timedelta

    project = Project.load(Path(sys.argv[1]))
    flows, _ = load_flows(project)
    worker = Worker(Store.open(project), flows, effects=production_effects(project),
                    idle=0.05, batch_size=100, lease=timedelta(seconds=3))
    worker.run(once=False, on_start=lambda: print("ready", flush=True))
    """
)


class Keys(BaseHTTPRequestHandler):
    accepted: Counter[str] = Counter()
    customers: Counter[str] = Counter()
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = self.headers.get("Idempotency-Key") or ""
        with self.lock:
            first = key not in self.accepted
            self.accepted[key] += 1
            if first:  # a receiver that honours the key applies the call once
                items = json.loads(body)
                for item in items if isinstance(items, list) else [items]:
                    self.customers[item["id"]] += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content = envelope.content.decode("utf-8", "replace")  # type: ignore[attr-defined]
        message_id = next(
            (
                line.split(":", 1)[1].strip()
                for line in content.splitlines()
                if line.lower().startswith("message-id:")
            ),
            "",
        )
        for rcpt in envelope.rcpt_tos:  # type: ignore[attr-defined]
            self.messages.append((rcpt, message_id))
        return "250 OK"


@pytest.fixture
def servers() -> Iterator[tuple[int, int, Inbox]]:
    Keys.accepted = Counter()
    Keys.customers = Counter()
    http = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    yield http.server_address[1], smtp_port, inbox
    smtp.stop()
    http.shutdown()
    http.server_close()


@pytest.mark.timeout(900)
def test_kill9_loses_and_repeats_nothing(tmp_path: Path, servers: tuple[int, int, Inbox]) -> None:
    http_port, smtp_port, inbox = servers
    root = tmp_path / "project"
    (root / "flows").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "templates" / "hello.html").write_text("<p>Hello {{ customer.external_id }}</p>")
    (root / "sluis.yaml").write_text(
        textwrap.dedent(f"""
        timezone: UTC
        connections:
          smtp: {{type: smtp, host: 127.0.0.1, port: {smtp_port}}}
        mail: {{from: "Shop <shop@example.com>", connection: smtp}}
        http: {{allow_private: true}}
    """)
    )
    (root / "flows" / "faults.yaml").write_text(textwrap.dedent(FLOW) % {"http": http_port})
    project = Project.load(root)
    store = Store.open(project)
    now = datetime.now(UTC)
    with store.db.write() as conn:
        rows = [
            {"external_id": f"C{i:05d}", "email": f"c{i}@example.com"} for i in range(CUSTOMERS)
        ]
        upsert_customers(conn, rows, key="external_id", project=project, now=now)
    Runtime(store, [find_flow(project, "faults")], SystemClock()).start("faults")

    rng = random.Random(20261128)
    kills = 0
    deadline = time.monotonic() + 600

    def finished() -> int:
        with store.db.read() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(JOURNEYS).where(JOURNEYS.c.state == "finished")
                ).scalar_one()
            )

    while kills < KILLS and time.monotonic() < deadline:
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert worker.stdout is not None
        worker.stdout.readline()  # "ready": imports done, the worker runs
        time.sleep(rng.uniform(0.05, 0.8))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker.stdout.close()
        kills += 1
    # no more kills: a last worker finishes the work, then stops cleanly
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    while finished() < CUSTOMERS and time.monotonic() < deadline:
        time.sleep(0.5)
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=120)
    assert "Traceback" not in err, err

    with store.db.read() as conn:
        states = Counter(
            dict(
                conn.execute(
                    select(JOURNEYS.c.state, func.count()).group_by(JOURNEYS.c.state)
                ).all()
            )
        )
        per_customer = conn.execute(
            select(func.count()).select_from(
                select(JOURNEYS.c.customer_id)
                .group_by(JOURNEYS.c.customer_id)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar_one()
    assert kills == KILLS
    assert states == Counter({"finished": CUSTOMERS}), states
    assert per_customer == 0

    exported: Counter[str] = Counter()
    for path in (root / "out").glob("*.csv"):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                exported[row["external_id"]] += 1
    assert len(exported) == CUSTOMERS
    assert max(exported.values()) == 1, "an export row was written twice"

    assert len(Keys.customers) == CUSTOMERS
    assert max(Keys.customers.values()) == 1, "an HTTP call was applied twice"

    sent = Counter(rcpt for rcpt, _ in inbox.messages)
    assert max(sent.values()) == 1, "a mail went out twice"
    # a kill between the send log and the server's answer leaves an ambiguous send, which is
    # recorded and not repeated: at most the mails in flight per kill can be missing
    assert len(sent) >= CUSTOMERS - KILLS * 100
    store.db.dispose()
