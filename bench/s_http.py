"""HTTP throughput: ``http-request`` against a local uvicorn peer, next to plain httpx doing the
same calls in the same run.

- batched: 100,000 customers with ``batch: 1000`` (100 calls of 1,000-element JSON arrays);
- per customer: 10,000 calls with ``concurrency: 50``.

The engine figures run the object on batches of 1,000 journeys (as the runtime hands them out),
so they measure the HTTP path: rendering, idempotency keys, the guarded pooled client, retries'
bookkeeping, routing and events. A third figure runs the batched case end to end through the
runtime on SQLite (claims, customers, steps, events) for context; it has no baseline.
"""

from __future__ import annotations

import gc
import json
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Result, scenario

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SETTINGS = """
timezone: UTC
profile: {first_name: str}
http: {allow_private: true, concurrency: 50}
"""
FLOW = """
objects:
  everyone: {type: selection, next: notify}
  notify:
    type: http-request
    url: "%(url)s"
    batch: %(batch)d
    concurrency: 50
    fields: {id: "{{ customer.external_id }}", email: "{{ customer.email }}"}
"""


@contextmanager
def http_peer() -> Iterator[str]:
    """The peer in its own process; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "bench.http_peer", str(port)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the HTTP peer did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _served(base: str) -> int:
    """Requests the peer got since the last look."""
    return int(httpx.get(f"{base}/count").text)


def _customers(count: int) -> list[dict[str, Any]]:
    return [
        {"system_id": i, "external_id": f"C{i:07d}", "email": f"c{i}@example.com"}
        for i in range(1, count + 1)
    ]


class _Engine:
    """The http-request object of a project, run on batches of 1,000 journeys."""

    def __init__(self, folder: Path, url: str, batch: int) -> None:
        from engine.http.client import HttpClient
        from engine.model.flow import load_flow
        from engine.model.project import Project
        from engine.sdk.effects import Effects
        from engine.store import Database, Store

        (folder / "flows").mkdir(parents=True)
        (folder / "sluis.yaml").write_text(textwrap.dedent(SETTINGS))
        flow_text = textwrap.dedent(FLOW % {"url": url, "batch": batch})
        (folder / "flows" / "bench.yaml").write_text(flow_text)
        self.project = Project.load(folder)
        self.flow = load_flow(self.project.flows_dir / "bench.yaml", self.project)
        self.store = Store(Database("sqlite://"), self.project)
        self.client = HttpClient.for_project(self.project)
        self.effects = Effects(http=self.client)
        self.batches = 0

    def __call__(self, customers: list[dict[str, Any]]) -> Spent:
        """Time the object spends on one batch. The batch is made just before it runs, as the
        runtime does; making it is not measured."""
        from engine.sdk.batch import Batch, Journey, Routing
        from engine.sdk.context import RunContext

        self.batches += 1
        journeys = [Journey(c["system_id"], c, {}, NOW, NOW, "everyone") for c in customers]
        batch = Batch("bench", "notify", f"bench.notify.{self.batches}", journeys)
        ctx = RunContext(NOW, self.project, self.flow, "notify", self.store, self.effects)
        routing = Routing()
        spent = _clocked(
            lambda: self.flow.instance("notify").run(batch=batch, routing=routing, ctx=ctx)
        )
        assert all(d.output == "ok" for d in routing.decisions.values())  # type: ignore[union-attr]
        return spent

    def close(self) -> None:
        self.client.close()
        self.store.db.dispose()


def _headers() -> dict[str, str]:
    return {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}


class _BaselineBatched:
    """Plain httpx: one POST of a JSON array per 1,000 customers."""

    def __init__(self, url: str) -> None:
        self.url, self.client = url, httpx.Client()

    def __call__(self, customers: list[dict[str, Any]]) -> Spent:
        return _clocked(lambda: self._post(customers))

    def _post(self, customers: list[dict[str, Any]]) -> None:
        body = [{"id": c["external_id"], "email": c["email"]} for c in customers]
        content = json.dumps(body, separators=(",", ":")).encode()
        assert self.client.post(self.url, content=content, headers=_headers()).status_code == 200

    def close(self) -> None:
        self.client.close()


class _BaselineEach:
    """Plain httpx: one POST per customer, 50 threads on one pooled client."""

    def __init__(self, base: str) -> None:
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
        self.base, self.client = base, httpx.Client(limits=limits)
        self.pool = ThreadPoolExecutor(50)

    def _post(self, c: dict[str, Any]) -> int:
        body = json.dumps({"id": c["external_id"], "email": c["email"]}, separators=(",", ":"))
        url = f"{self.base}/crm/{c['external_id']}"
        return self.client.post(url, content=body.encode(), headers=_headers()).status_code

    def __call__(self, customers: list[dict[str, Any]]) -> Spent:
        return _clocked(lambda: self._post_all(customers))

    def _post_all(self, customers: list[dict[str, Any]]) -> None:
        assert set(self.pool.map(self._post, customers)) == {200}

    def close(self) -> None:
        self.pool.shutdown()
        self.client.close()


@dataclass
class Spent:
    """Wall-clock seconds and CPU seconds of this process (all its threads; the peer runs in
    its own process). On a shared machine the CPU figure is the steadier one."""

    wall: float = 0.0
    cpu: float = 0.0

    def __iadd__(self, other: Spent) -> Spent:
        self.wall += other.wall
        self.cpu += other.cpu
        return self


Side = Callable[[list[dict[str, Any]]], Spent]


def _clocked(work: Callable[[], object]) -> Spent:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return Spent(time.perf_counter() - wall, time.process_time() - cpu)


def _interleaved(
    engine: Side, baseline: Side, customers: list[dict[str, Any]]
) -> tuple[Spent, Spent]:
    """Time of each side over the customers, in batches of 1,000 taken in turns (who goes
    first alternates), so both meet the same load on the machine."""
    engine_spent, baseline_spent = Spent(), Spent()
    for n, first in enumerate(range(0, len(customers), 1000)):
        chunk = customers[first : first + 1000]
        if n % 2:
            baseline_spent += baseline(chunk)
            engine_spent += engine(chunk)
        else:
            engine_spent += engine(chunk)
            baseline_spent += baseline(chunk)
    return engine_spent, baseline_spent


def _notes(calls: int, engine: Spent, baseline: Spent) -> dict[str, str]:
    return {
        "engine_s": f"{engine.wall:.2f}",
        "baseline_s": f"{baseline.wall:.2f}",
        "cpu_ms/call": f"{1000 * engine.cpu / calls:.2f} vs {1000 * baseline.cpu / calls:.2f}",
        "cpu ratio": f"{engine.cpu / baseline.cpu:.2f}x",
    }


def _end_to_end(folder: Path, url: str, count: int) -> tuple[float, int]:
    """The batched case through the runtime on SQLite: (seconds, calls)."""
    from engine.http.client import HttpClient
    from engine.model.flow import load_flow
    from engine.model.project import Project
    from engine.runtime.clock import VirtualClock
    from engine.runtime.runner import Runtime
    from engine.sdk.effects import Effects
    from engine.store import Store
    from engine.store.customers import upsert_customers

    (folder / "flows").mkdir(parents=True)
    (folder / "sluis.yaml").write_text(textwrap.dedent(SETTINGS))
    (folder / "flows" / "bench.yaml").write_text(
        textwrap.dedent(FLOW % {"url": url, "batch": 1000})
    )
    project = Project.load(folder)
    store = Store.open(project)
    rows = [{"external_id": c["external_id"], "email": c["email"]} for c in _customers(count)]
    with store.db.write() as conn:
        upsert_customers(conn, rows, key="external_id", project=project, now=NOW)
    client = HttpClient.for_project(project)
    runtime = Runtime(
        store,
        [load_flow(project.flows_dir / "bench.yaml", project)],
        VirtualClock(NOW),
        Effects(http=client),
    )
    runtime.start("bench")
    start = time.perf_counter()
    runtime.fire_due()
    batches = runtime.run_until_idle()
    seconds = time.perf_counter() - start
    client.close()
    store.db.dispose()
    return seconds, batches


@scenario("http")
def http_throughput(scale: float) -> list[Result]:
    batched = max(1000, int(100_000 * scale))
    each = max(1000, int(10_000 * scale))
    results = []
    with http_peer() as base, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        gc.collect()
        gc.freeze()  # the customers in memory are the benchmark's, not the engine's: keep GC off them
        # batched: 1,000 customers per call
        engine, baseline = (
            _Engine(folder / "batched", f"{base}/bulk", 1000),
            _BaselineBatched(f"{base}/bulk"),
        )
        customers = _customers(batched)
        _interleaved(engine, baseline, customers[:2000])  # warm up: connections, caches
        _served(base)
        engine_spent, base_spent = _interleaved(engine, baseline, customers)
        calls = -(-batched // 1000)
        assert _served(base) == 2 * calls
        engine.close()
        baseline.close()
        results.append(
            Result(
                "batch: 1000",
                "calls/s",
                calls / engine_spent.wall,
                calls / base_spent.wall,
                target="within 1.5x",
                notes={
                    "customers": f"{batched:,}",
                    "calls": f"{calls:,}",
                    **_notes(calls, engine_spent, base_spent),
                },
            )
        )
        # per customer: concurrency 50
        engine = _Engine(folder / "each", base + "/crm/{{ customer.external_id }}", 1)
        each_baseline = _BaselineEach(base)
        customers = _customers(each)
        _interleaved(engine, each_baseline, customers[:2000])
        _served(base)
        engine_spent, base_spent = _interleaved(engine, each_baseline, customers)
        assert _served(base) == 2 * each
        engine.close()
        each_baseline.close()
        results.append(
            Result(
                "per customer, concurrency 50",
                "calls/s",
                each / engine_spent.wall,
                each / base_spent.wall,
                target="within 1.5x",
                notes={"calls": f"{each:,}", **_notes(each, engine_spent, base_spent)},
            )
        )
        gc.unfreeze()
        # end to end through the runtime (context, no baseline)
        seconds, batches = _end_to_end(folder / "runtime", f"{base}/bulk", batched)
        assert _served(base) == -(-batched // 1000)
        results.append(
            Result(
                "batch: 1000 through the runtime (SQLite)",
                "customers/s",
                batched / seconds,
                notes={"batches": f"{batches:,}", "seconds": f"{seconds:.1f}"},
            )
        )
    return results
