"""Webhook receiver throughput: ``sluis serve`` (one uvicorn worker, SQLite) takes 1 KB order
payloads from a load generator on 127.0.0.1 at a fixed concurrency; requests per second and
p50/p99 latency. Target: at least 1,000 requests/s with p99 under 50 ms.

The load generator is wrk (``apt-get install wrk``; one thread, with a Lua script that makes
every request a new event and order, one customer in ten new) when it is installed, else an
asyncio client on httpx in this process, which takes a good part of a core itself. A 2 s
warm-up is not measured. Beside the rates, the CPU time per request of the server and of the
load generator: on a machine shared with other work, req/s and latency move with its load,
CPU per request much less.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Result, p50_p99_ms, scenario

SLUIS = (sys.executable, "-c", "from cli import main; main()")
CONCURRENCY = 32
SECONDS = 10.0
WARM_UP = 2.0
SETTINGS = """\
database: sqlite:///bench.db
timezone: UTC
profile: {first_name: str, last_name: str, country: str}
datamodel:
  orders:
    key: order_id
    fields: {order_id: str, total: decimal, status: str, created_at: datetime}
"""
FLOW = """\
name: orders
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
      customer.last_name: last_name
      customer.country: country
    records:
      collection: orders
      path: order
      map: {id: order_id, total: total, status: status, created_at: created_at}
    dedupe: event_id
    next: paid
  paid:
    type: filter
    when: data.order.status == "paid"
"""


def payload(n: int) -> dict[str, Any]:
    """A 1 KB order payload; customers repeat (one in ten is new), orders never do."""
    customer = n % max(1, n // 10 + 1)
    return {
        "event_id": f"evt-{n}",
        "topic": "orders/create",
        "customer": {
            "id": f"C{customer:07}",
            "email": f"customer{customer}@example.com",
            "first_name": "Anna",
            "last_name": "de Vries",
            "country": "NL",
        },
        "order": {
            "id": f"O{n:09}",
            "total": "123.45",
            "status": "paid",
            "created_at": "2026-01-05T09:00:00+01:00",
            "lines": [
                {"sku": f"SKU-{i:04}", "name": "A product with a longish name", "qty": 1}
                for i in range(8)
            ],
        },
        "note": "x" * 120,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sluis(folder: Path, *args: str) -> str:
    done = subprocess.run(
        [*SLUIS, *args, "--project", str(folder)],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def _project(folder: Path) -> str:
    (folder / "flows").mkdir(parents=True)
    (folder / "sluis.yaml").write_text(SETTINGS)
    (folder / "flows" / "orders.yaml").write_text(FLOW)
    _sluis(folder, "user", "create", "shop", "--service")
    out = _sluis(folder, "token", "create", "--user", "shop", "--webhook", "orders")
    _sluis(folder, "start", "orders")
    return next(word for word in out.split() if word.startswith("sluis_"))


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process so far, from /proc (0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("sluis serve exited; run it by hand to see why")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("sluis serve did not come up within 30 s")


async def _httpx_load(
    url: str, token: str, seconds: float, bodies: list[bytes]
) -> tuple[int, list[float]]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    counter = iter(range(len(bodies)))
    errors = 0
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        end = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < end:
                body = bodies[next(counter) % len(bodies)]
                start = time.perf_counter()
                answer = await client.post(f"{url}/webhooks/orders", content=body, headers=headers)
                latencies.append(time.perf_counter() - start)
                if answer.status_code != 200:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return errors, latencies


WRK_SCRIPT = """\
-- every request a new event and order (ids unique across threads and runs, or the server
-- would answer redeliveries); one customer in ten is new
local template = [[%s]]
local run = "%s"
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
request = function()
  n = n + 1
  local id = string.format("%%s-%%d-%%d", run, thread_id, n)
  local customer = string.format("%%d-%%d", thread_id, math.floor(n / 10))
  local body = template:gsub("EVENT", id):gsub("ORDER", id):gsub("CUSTOMER", customer)
  return wrk.format(nil, "/webhooks/orders", nil, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%f %%f %%d\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.bytes))
end
"""


def _children_cpu() -> float:
    """CPU time (user + system) of the child processes waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wrk_load(
    url: str, token: str, seconds: float, folder: Path
) -> tuple[float, float, float, int, float]:
    """Requests/s, p50 and p99 in ms, errors, and wrk's own CPU per request in us."""
    template = payload(1)
    template["event_id"] = "EVENT"
    template["order"]["id"] = "ORDER"
    template["customer"]["id"] = "CCUSTOMER"
    script = folder / "load.lua"
    script.write_text(WRK_SCRIPT % (json.dumps(template), uuid.uuid4().hex[:8], token))
    cpu_before = _children_cpu()
    done = subprocess.run(
        [
            "wrk",
            "-t1",  # one thread keeps up with this server and leaves the other core to it
            f"-c{CONCURRENCY}",
            f"-d{int(seconds)}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    wrk_cpu = _children_cpu() - cpu_before
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT"))
    _, requests, errors, duration_us, p50_us, p99_us, _bytes = line.split()
    seconds_run = int(duration_us) / 1e6
    return (
        int(requests) / seconds_run,
        float(p50_us) / 1000,
        float(p99_us) / 1000,
        int(errors),
        wrk_cpu * 1e6 / max(1, int(requests)),
    )


def _httpx_run(
    url: str, token: str, seconds: float, first: int
) -> tuple[float, float, float, int, float]:
    """As ``_wrk_load``, with the asyncio client in this process (its CPU is ours)."""
    bodies = [json.dumps(payload(n)).encode() for n in range(first, first + int(5000 * seconds))]
    cpu, start = time.process_time(), time.perf_counter()
    errors, latencies = asyncio.run(_httpx_load(url, token, seconds, bodies))
    rate = len(latencies) / (time.perf_counter() - start)
    cpu_us = (time.process_time() - cpu) * 1e6 / max(1, len(latencies))
    p50, p99 = p50_p99_ms(latencies)
    return rate, p50, p99, errors, cpu_us


@scenario("webhook")
def webhook(scale: float) -> list[Result]:
    seconds = max(2.0, SECONDS * scale)
    load_before = os.getloadavg()[0]
    generator = "wrk" if shutil.which("wrk") else "httpx"
    with tempfile.TemporaryDirectory(prefix="sluis-bench-") as tmp:
        folder = Path(tmp) / "project"
        token = _project(folder)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [*SLUIS, "serve", "--port", str(port), "--project", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "SLUIS_LOG_LEVEL": "WARNING"},
        )

        def load(length: float, first: int) -> tuple[float, float, float, int, float]:
            if generator == "wrk":
                return _wrk_load(url, token, length, Path(tmp))
            return _httpx_run(url, token, length, first)

        try:
            _wait_up(url, server)
            size = len(json.dumps(payload(1)))
            load(WARM_UP, 0)  # the first calls fill the statement caches; not measured
            cpu_before = _cpu_seconds(server.pid)
            rate, p50, p99, errors, load_cpu = load(seconds, 1_000_000)
            served = rate * seconds
            cpu_us = (_cpu_seconds(server.pid) - cpu_before) * 1e6 / max(1.0, served)
        finally:
            server.terminate()
            server.wait(timeout=30)
    notes = {
        "payload": f"{size} B",
        "concurrency": str(CONCURRENCY),
        "load": generator,
        "errors": str(errors),
        "at": datetime.now(UTC).strftime("%Y-%m-%d"),
        # other processes on the machine take CPU from the server: read req/s and latency
        # beside these; CPU per request does not depend on them much
        "load avg before/after": f"{load_before:.1f}/{os.getloadavg()[0]:.1f}",
        "cores": str(os.cpu_count()),
    }
    return [
        Result("requests/s", "req/s", rate, target=">= 1000", notes=notes),
        Result("server CPU per request", "us", cpu_us, higher_is_better=False),
        Result(f"{generator} CPU per request", "us", load_cpu, higher_is_better=False),
        Result("p50 latency", "ms", p50, higher_is_better=False),
        Result("p99 latency", "ms", p99, higher_is_better=False, target="< 50"),
    ]
