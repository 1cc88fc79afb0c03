"""Customer lookups over HTTP against one ``sluis serve`` (one uvicorn worker, SQLite, 10,000
customers): ``customer_getByEmailAddress`` through SOAP beside the same lookup through REST
(``GET /api/v1/customers?email=``) in the same run, and the same lookup by a hand-written ASGI
app under the same uvicorn (``bench.lookup_floor``: one sqlite3 query, no framework) as the
floor of the REST figures. Targets: SOAP within 2x of REST; REST at 1,000 requests/s with p99
under 50 ms.

Two loads (``bench.load``): the most each call does (a closed loop at a fixed concurrency, by
``wrk`` where it is installed, else by this process), and REST requests (to sluis and to the floor) due at
a fixed 1,000 a second (an open loop: p50 and p99 counted from when each request was due),
whose answers are checked. The floor answers the same customers (checked the same way). The load generator shares the machine's cores with the server;
beside the rates, the server's CPU time per request, which moves less with the machine's
load. A warm-up is not measured.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Result, scenario
from bench.load import Call, Check, Load, closed_loop, open_loop, wrk_closed_loop
from bench.s_webhook import SLUIS, _cpu_seconds, _free_port, _sluis, _wait_up

CUSTOMERS = 10_000
CONCURRENCY = 16
RATE = 1000.0  # requests due a second, in the open loop
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


def _most(url: tuple[str, int], call: Call, check: Check, seconds: float, pid: int) -> Load:
    """The closed loop (wrk where installed), after a warm-up; ``client_cpu_us`` is set to
    the server's CPU per request."""
    closed_loop(url, call, check, items=CUSTOMERS, concurrency=CONCURRENCY, seconds=WARM_UP)
    cpu = _cpu_seconds(pid)
    load = wrk_closed_loop(url, call, items=CUSTOMERS, concurrency=CONCURRENCY, seconds=seconds)
    if load is None:
        load = closed_loop(
            url, call, check, items=CUSTOMERS, concurrency=CONCURRENCY, seconds=seconds
        )
    load.server_cpu_us = (_cpu_seconds(pid) - cpu) * 1e6 / max(1, load.answered)
    return load


def _at_rate(url: tuple[str, int], call: Call, check: Check, seconds: float) -> Load:
    open_loop(url, call, check, items=CUSTOMERS, rate=RATE, seconds=WARM_UP)
    return open_loop(url, call, check, items=CUSTOMERS, rate=RATE, seconds=seconds)


def _found(n: int, status: int, body: bytes) -> bool:
    return status == 200 and f"customer{n}@".encode() in body


def _floor(folder: Path, token: str, port: int) -> subprocess.Popen[bytes]:
    """The hand-written lookup server (``bench.lookup_floor``) on ``port``."""
    command = [sys.executable, "-m", "uvicorn", "bench.lookup_floor:app", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level"]
    command += ["warning"]
    env = {**os.environ, "SLUIS_FLOOR_DB": str(folder / "bench.db"), "SLUIS_FLOOR_TOKEN": token}
    cwd = Path(__file__).resolve().parents[1]
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL)


@scenario("soap")
def soap(scale: float) -> list[Result]:
    seconds = max(2.0, SECONDS * scale)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="sluis-bench-") as tmp:
        folder = Path(tmp) / "project"
        token = _project(folder)
        port, floor_port = _free_port(), _free_port()
        url, floor_url = ("127.0.0.1", port), ("127.0.0.1", floor_port)
        server = subprocess.Popen(
            [*SLUIS, "serve", "--port", str(port), "--project", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        floor = _floor(folder, token, floor_port)
        rest = Call(
            "GET",
            "/api/v1/customers?email=customer{n}%40example.com",
            {"Authorization": f"Bearer {token}"},
        )
        soap_call = Call(
            "POST",
            "/soap",
            {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
            _envelope(token, "customer{n}@example.com").decode(),
        )
        try:
            _wait_up(f"http://127.0.0.1:{port}", server)
            _wait_up(f"http://127.0.0.1:{floor_port}", floor)
            f_most = _most(floor_url, rest, _found, seconds, floor.pid)
            r_most = _most(url, rest, _found, seconds, server.pid)
            s_most = _most(url, soap_call, _found, seconds, server.pid)
            f_rate = _at_rate(floor_url, rest, _found, seconds)
            r_rate = _at_rate(url, rest, _found, seconds)
        finally:
            for process in (server, floor):
                process.terminate()
                process.wait(timeout=30)
    most = {
        "load": f"closed loop, {r_most.tool}, {CONCURRENCY} connections",
        "errors": f"{s_most.errors}/{r_most.errors}",
    }
    return [
        Result(
            "SOAP customer_getByEmailAddress vs REST ?email=, most",
            "req/s",
            s_most.rate,
            r_most.rate,
            target="within 2x",
            notes={**most, "p99 ms": f"{s_most.p99_ms:.1f}/{r_most.p99_ms:.1f}"},
        ),
        Result(
            "server CPU per lookup, SOAP vs REST",
            "us",
            s_most.server_cpu_us,
            r_most.server_cpu_us,
            higher_is_better=False,
        ),
        Result(
            "REST lookups, most on one worker, vs the hand-written floor",
            "req/s",
            r_most.rate,
            f_most.rate,
            target=">= 1,000",
            notes={**most, "errors": f"{r_most.errors}/{f_most.errors}"},
        ),
        Result(
            f"REST lookups due at {RATE:,.0f}/s (open loop): p99 vs the floor",
            "ms",
            r_rate.p99_ms,
            f_rate.p99_ms,
            higher_is_better=False,
            target="< 50",
            notes={
                "p50 ms": f"{r_rate.p50_ms:.1f}/{f_rate.p50_ms:.1f}",
                "answered/s": f"{r_rate.rate:,.0f}/{f_rate.rate:,.0f}",
                "wrong answers": f"{r_rate.errors}/{f_rate.errors}",
                "client CPU us/req": f"{r_rate.client_cpu_us:.0f}",
                "customers": f"{CUSTOMERS:,}",
                "load avg before": f"{load_before:.1f}",
            },
        ),
        Result(
            "server CPU per REST lookup vs the floor",
            "us",
            r_most.server_cpu_us,
            f_most.server_cpu_us,
            higher_is_better=False,
        ),
    ]
