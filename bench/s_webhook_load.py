"""Webhook load: 20,000 deliveries over 50 keep-alive connections from a raw asyncio client
(HTTP/1.1 written and read by hand, so the client costs little CPU), against ``sluis serve``
on SQLite with one process, and on PostgreSQL with one and with two processes. One delivery in
twenty repeats an event sent a moment earlier (often still in flight), as senders' retries do.

Then exactly once is checked in the database: every event answered 200 has one delivery row,
one journey and one order record, every repeat answered ``duplicate: true`` with its first
delivery's journey, and nothing else was stored. Targets (SQLite, one process): at least
1,500 requests/s and p99 under 50 ms.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.harness import Result, fresh_postgres, p50_p99_ms, scenario
from bench.s_webhook import SLUIS, _cpu_seconds, _free_port, _project, _wait_up, payload

CONNECTIONS = 50
DELIVERIES = 20_000
REPEAT_EVERY = 20  # one delivery in twenty repeats the event sent ten deliveries earlier


def deliveries(count: int) -> list[tuple[str, bytes]]:
    """(event id, body) in sending order; repeats carry an earlier event's body again."""
    bodies: list[tuple[str, bytes]] = []
    for n in range(count):
        if n % REPEAT_EVERY == REPEAT_EVERY - 1:
            bodies.append(bodies[n - 10])
        else:
            bodies.append((f"evt-{n}", json.dumps(payload(n)).encode()))
    return bodies


async def _connection(
    port: int,
    head: bytes,
    work: Iterator[tuple[str, bytes]],
    answers: list[tuple[str, int, float, Any]],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for event_id, body in work:
            start = time.perf_counter()
            writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
            status = int((await reader.readuntil(b"\r\n")).split()[1])
            length = 0
            while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            answer = await reader.readexactly(length)
            answers.append((event_id, status, time.perf_counter() - start, answer))
    finally:
        writer.close()


async def _load(
    ports: list[int], token: str, sent: list[tuple[str, bytes]]
) -> list[tuple[str, int, float, Any]]:
    head = (
        "POST /webhooks/orders HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: "
    ).encode()
    work = iter(sent)  # shared: each connection takes the next delivery when it is free
    answers: list[tuple[str, int, float, Any]] = []
    await asyncio.gather(
        *(_connection(ports[n % len(ports)], head, work, answers) for n in range(CONNECTIONS))
    )
    return answers


def exactly_once(url: str, answers: list[tuple[str, int, float, Any]]) -> str:
    """'ok', or what in the database does not match the answers."""
    first: dict[str, int] = {}
    repeats: list[tuple[str, int]] = []
    for event_id, status, _, body in answers:
        if status != 200:
            continue
        [item] = json.loads(body)["items"]
        [journey] = item["journeys"]
        if item["duplicate"]:
            repeats.append((event_id, journey))
        elif event_id in first:
            return f"event {event_id} stored twice"
        else:
            first[event_id] = journey
    if any(first.get(event_id) != journey for event_id, journey in repeats):
        return "a repeat answered another journey than its first delivery"
    engine = create_engine(url)
    with engine.connect() as conn:
        stored = {
            "deliveries": conn.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar(),
            "journeys": conn.execute(text("SELECT count(*) FROM journeys")).scalar(),
            "orders": conn.execute(text("SELECT count(*) FROM records")).scalar(),
        }
        journeys = {r[0] for r in conn.execute(text("SELECT id FROM journeys"))}
    engine.dispose()
    wanted = {name: len(first) for name in stored}
    if stored != wanted:
        return f"stored {stored}, answered {len(first)} first deliveries"
    if journeys != set(first.values()):
        return "the journeys stored are not those answered"
    return "ok"


@contextmanager
def _servers(folder: Path, count: int, env: dict[str, str]) -> Iterator[list[tuple[int, int]]]:
    """``count`` ``sluis serve`` processes: (port, pid) each."""
    with ExitStack() as stack:
        started = []
        for _ in range(count):
            port = _free_port()
            server = subprocess.Popen(
                [*SLUIS, "serve", "--port", str(port), "--project", str(folder)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            stack.callback(server.wait, 30)
            stack.callback(server.terminate)
            _wait_up(f"http://127.0.0.1:{port}", server)
            started.append((port, server.pid))
        yield started


def _run(label: str, url: str, processes: int, count: int) -> list[Result]:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="sluis-bench-") as tmp:
        folder = Path(tmp) / "project"
        if url == "sqlite":
            url = f"sqlite:///{folder / 'bench.db'}"
        env = {**os.environ, "SLUIS_DATABASE_URL": url, "SLUIS_LOG_LEVEL": "WARNING"}
        saved = os.environ.get("SLUIS_DATABASE_URL")
        os.environ["SLUIS_DATABASE_URL"] = url  # the setup commands use it too
        try:
            token = _project(folder)
        finally:
            if saved is None:
                os.environ.pop("SLUIS_DATABASE_URL")
            else:
                os.environ["SLUIS_DATABASE_URL"] = saved
        sent = deliveries(count)
        with _servers(folder, processes, env) as servers:
            cpu_before = sum(_cpu_seconds(pid) for _, pid in servers)
            start = time.perf_counter()
            answers = asyncio.run(_load([port for port, _ in servers], token, sent))
            elapsed = time.perf_counter() - start
            server_cpu = sum(_cpu_seconds(pid) for _, pid in servers) - cpu_before
        verdict = exactly_once(url, answers)
    latencies = sorted(a[2] for a in answers)
    errors = sum(1 for a in answers if a[1] != 200)
    notes = {
        "deliveries": f"{len(answers):,}",
        "connections": str(CONNECTIONS),
        "non-200": str(errors),
        "exactly once": verdict,
        "server CPU/req": f"{server_cpu * 1e6 / len(answers):,.0f} us",
        "load avg before/after": f"{load_before:.1f}/{os.getloadavg()[0]:.1f}",
    }
    sqlite_one = url.startswith("sqlite") and processes == 1
    p50, p99 = p50_p99_ms(latencies)
    return [
        Result(
            f"{label} requests/s",
            "req/s",
            len(answers) / elapsed,
            target=">= 1500" if sqlite_one else "",
            notes=notes,
        ),
        Result(f"{label} p50", "ms", p50, higher_is_better=False),
        Result(
            f"{label} p99",
            "ms",
            p99,
            higher_is_better=False,
            target="< 50" if sqlite_one else "",
        ),
    ]


@scenario("webhook-load")
def webhook_load(scale: float) -> list[Result]:
    count = max(1_000, int(DELIVERIES * scale))
    results = _run("SQLite, 1 process", "sqlite", 1, count)
    for processes in (1, 2):
        with fresh_postgres() as url:
            results += _run(f"PostgreSQL, {processes} process(es)", url, processes, count)
    return results
