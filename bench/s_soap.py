"""Customer lookups over HTTP: ``customer_getByEmailAddress`` through SOAP beside the same
lookup through REST (``GET /api/v1/customers?email=``) in the same run, against one
``sluis serve`` (one uvicorn worker, SQLite, 10,000 customers). Targets: SOAP within 2x of
REST; REST at 1,000 requests/s with p99 under 50 ms. ``/healthz`` under the same load is the
floor of the server and the load generator (the baseline of the REST figures).

The load is an asyncio client on httpx in this process at a fixed concurrency (it takes a
good part of a core itself, on the same machine as the server); a warm-up is not measured.
Beside the rates, the server's CPU time per request, which moves less with the machine's load.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.harness import Result, p50_p99_ms, scenario
from bench.s_webhook import SLUIS, _cpu_seconds, _free_port, _sluis, _wait_up

CUSTOMERS = 10_000
CONCURRENCY = 16
SECONDS = 8.0
WARM_UP = 1.5
SETTINGS = """\
database: sqlite:///bench.db
timezone: UTC
profile: {first_name: str, last_name: str, city: str}
"""
NS = "https://secure.myclang.com/app/api/soap/public/index.php"


def _envelope(token: str, email: str) -> bytes:
    """What PHP's SoapClient sends for customer_getByEmailAddress."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV='
        f'"http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="{NS}"><SOAP-ENV:Body>'
        f"<ns1:customer_getByEmailAddress><ns1:uuid>{token}</ns1:uuid><ns1:emailAddress>"
        f"{email}</ns1:emailAddress></ns1:customer_getByEmailAddress></SOAP-ENV:Body>"
        "</SOAP-ENV:Envelope>\n"
    ).encode()


def _project(folder: Path) -> str:
    from engine.model.project import Project
    from engine.store import Store
    from engine.store.customers import upsert_customers

    (folder / "flows").mkdir(parents=True)
    (folder / "sluis.yaml").write_text(SETTINGS)
    project = Project.load(folder)
    store = Store.open(project)
    rows = [
        {
            "external_id": f"C{n:07}",
            "email": f"customer{n}@example.com",
            "first_name": "Anna",
            "last_name": "de Vries",
            "city": "Utrecht",
        }
        for n in range(CUSTOMERS)
    ]
    with store.db.write() as conn:
        upsert_customers(conn, rows, key="external_id", project=project, now=datetime.now(UTC))
    store.db.dispose()
    _sluis(folder, "user", "create", "shop", "--service")
    out = _sluis(folder, "token", "create", "--user", "shop", "--scope", "customers:read")
    return next(word for word in out.split() if word.startswith("sluis_"))


Call = Callable[[httpx.AsyncClient, int], "asyncio.Future[httpx.Response]"]


async def _load(call: Call, seconds: float, check: bool) -> tuple[int, list[float]]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        end = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < end:
                n = next(counter) * 7919 % CUSTOMERS
                start = time.perf_counter()
                answer = await call(client, n)
                latencies.append(time.perf_counter() - start)
                if answer.status_code != 200 or (check and f"customer{n}@" not in answer.text):
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return errors, latencies


def _measure(
    call: Call, seconds: float, pid: int, *, check: bool = True
) -> tuple[float, float, float, int, float]:
    """Requests/s, p50 and p99 in ms, errors, and the server's CPU per request in us."""
    asyncio.run(_load(call, WARM_UP, check))
    cpu = _cpu_seconds(pid)
    start = time.perf_counter()
    errors, latencies = asyncio.run(_load(call, seconds, check))
    rate = len(latencies) / (time.perf_counter() - start)
    cpu_us = (_cpu_seconds(pid) - cpu) * 1e6 / max(1, len(latencies))
    p50, p99 = p50_p99_ms(latencies)
    return rate, p50, p99, errors, cpu_us


@scenario("soap")
def soap(scale: float) -> list[Result]:
    seconds = max(2.0, SECONDS * scale)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="sluis-bench-") as tmp:
        folder = Path(tmp) / "project"
        token = _project(folder)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [*SLUIS, "serve", "--port", str(port), "--project", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        auth = {"Authorization": f"Bearer {token}"}
        soap_headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}

        def rest(client: httpx.AsyncClient, n: int) -> asyncio.Future[httpx.Response]:
            params = {"email": f"customer{n}@example.com"}
            return client.get(f"{url}/api/v1/customers", params=params, headers=auth)  # type: ignore[return-value]

        def soap_call(client: httpx.AsyncClient, n: int) -> asyncio.Future[httpx.Response]:
            body = _envelope(token, f"customer{n}@example.com")
            return client.post(f"{url}/soap", content=body, headers=soap_headers)  # type: ignore[return-value]

        def health(client: httpx.AsyncClient, n: int) -> asyncio.Future[httpx.Response]:
            return client.get(f"{url}/healthz", params={"n": f"customer{n}@"})  # type: ignore[return-value]

        try:
            _wait_up(url, server)
            h_rate, _, h_p99, _, h_cpu = _measure(health, seconds, server.pid, check=False)
            r_rate, r_p50, r_p99, r_errors, r_cpu = _measure(rest, seconds, server.pid)
            s_rate, s_p50, s_p99, s_errors, s_cpu = _measure(soap_call, seconds, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    common = {
        "customers": f"{CUSTOMERS:,}",
        "concurrency": str(CONCURRENCY),
        "load avg before": f"{load_before:.1f}",
    }
    return [
        Result(
            "SOAP customer_getByEmailAddress vs REST ?email=",
            "req/s",
            s_rate,
            r_rate,
            target="within 2x",
            notes={"errors": f"{s_errors}/{r_errors}", "p99 ms": f"{s_p99:.1f}/{r_p99:.1f}"},
        ),
        Result(
            "server CPU per lookup, SOAP vs REST",
            "us",
            s_cpu,
            r_cpu,
            higher_is_better=False,
            notes={"p50 ms": f"{s_p50:.1f}/{r_p50:.1f}"},
        ),
        Result(
            "REST lookups, one worker, vs /healthz",
            "req/s",
            r_rate,
            h_rate,
            target=">= 1,000",
            notes=common,
        ),
        Result(
            "REST lookup p99 vs /healthz", "ms", r_p99, h_p99, higher_is_better=False, target="< 50"
        ),
        Result(
            "server CPU per REST lookup vs /healthz", "us", r_cpu, h_cpu, higher_is_better=False
        ),
    ]
