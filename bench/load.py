"""HTTP load for the API benchmarks, lean enough that the load generator is not the ceiling of
what it measures on the same machine: raw HTTP/1.1 keep-alive connections on uvloop, no HTTP
client library (httpx costs the client more CPU per request than the server's lookup).

Two shapes of load:

- ``open_loop``: requests are due at a fixed rate whatever the answers do, as independent
  callers send them; each latency counts from when its request was due, so a server that
  falls behind shows it in the latencies (no coordinated omission);
- ``closed_loop``: a fixed number of callers, each sending its next request when its answer
  came: the most the server does. ``wrk`` (Debian's package, in C) does this with less CPU
  of its own, where it is installed (``wrk_closed_loop``; None where it is not).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvloop

from bench.harness import p50_p99_ms

SPREAD = 7919  # request n asks for item n * SPREAD % items: spread over the items, no cache run


@dataclass(frozen=True)
class Call:
    """One kind of request; ``{n}`` in the path and the body is the number of the item asked
    for."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    def raw(self, host: str, n: int) -> bytes:
        body = self.body.replace("{n}", str(n)).encode()
        lines = [f"{self.method} {self.path.replace('{n}', str(n))} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def lua(self, items: int) -> str:
        """A wrk script sending this call for items spread as ``raw`` numbers do."""
        headers = ", ".join(f'["{k}"] = [==[{v}]==]' for k, v in self.headers.items())
        body = f"string.gsub([==[{self.body}]==], '{{n}}', n)" if self.body else "nil"
        return (
            "counter = 0\n"
            "request = function()\n"
            "  counter = counter + 1\n"
            f"  local n = tostring((counter * {SPREAD}) % {items})\n"
            f"  local path = string.gsub([==[{self.path}]==], '{{n}}', n)\n"
            f"  return wrk.format('{self.method}', path, {{{headers}}}, ({body}))\n"
            "end\n"
        )


Check = Callable[[int, int, bytes], bool]  # (item, status, body) -> is the answer right?


@dataclass
class Load:
    """What one run of load measured."""

    answered: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    client_cpu_us: float = 0.0  # CPU of the load generator per request (0: not measured)
    tool: str = "python"
    server_cpu_us: float = 0.0  # CPU of the server per request, where the caller measured it

    @property
    def rate(self) -> float:
        return self.answered / self.seconds


class _Connection:
    """One keep-alive connection; opened again when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        writer.write(request)
        head = (await reader.readuntil(b"\r\n\r\n")).lower()
        found = re.search(rb"\r\ncontent-length: *(\d+)", head)
        body = await reader.readexactly(int(found.group(1))) if found else b""
        if found is None or b"\r\nconnection: close" in head:
            writer.close()
            self.streams = None
        return int(head[9:12]), body

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()


def _load(latencies: list[float], errors: int, seconds: float, cpu: float) -> Load:
    p50, p99 = p50_p99_ms(latencies) if latencies else (0.0, 0.0)
    cpu_us = cpu * 1e6 / max(1, len(latencies))
    return Load(len(latencies), errors, seconds, p50, p99, cpu_us)


async def _open_loop(
    url: tuple[str, int], call: Call, check: Check, items: int, rate: float, seconds: float
) -> Load:
    host, port = url
    loop = asyncio.get_running_loop()
    due: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    latencies: list[float] = []
    errors = 0

    async def caller(connection: _Connection) -> None:
        nonlocal errors
        while (item := await due.get()) is not None:
            n, at = item
            status, body = await connection.exchange(call.raw(host, n))
            latencies.append(loop.time() - at)
            errors += not check(n, status, body)
        connection.close()

    # enough connections that a slow answer never holds up the next request that is due
    connections = [_Connection(host, port) for _ in range(max(16, int(rate / 20)))]
    callers = [asyncio.create_task(caller(c)) for c in connections]
    cpu, start = time.process_time(), loop.time()
    for sent in range(int(rate * seconds)):
        at = start + sent / rate
        if at > loop.time():
            await asyncio.sleep(at - loop.time())
        due.put_nowait((sent * SPREAD % items, at))
    for _ in callers:
        due.put_nowait(None)
    await asyncio.gather(*callers)
    return _load(latencies, errors, loop.time() - start, time.process_time() - cpu)


async def _closed_loop(
    url: tuple[str, int], call: Call, check: Check, items: int, concurrency: int, seconds: float
) -> Load:
    host, port = url
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    cpu, start = time.process_time(), time.perf_counter()
    end = start + seconds

    async def caller() -> None:
        nonlocal errors
        connection = _Connection(host, port)
        while time.perf_counter() < end:
            n = next(counter) * SPREAD % items
            sent = time.perf_counter()
            status, body = await connection.exchange(call.raw(host, n))
            latencies.append(time.perf_counter() - sent)
            errors += not check(n, status, body)
        connection.close()

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return _load(latencies, errors, time.perf_counter() - start, time.process_time() - cpu)


def open_loop(
    url: tuple[str, int], call: Call, check: Check, *, items: int, rate: float, seconds: float
) -> Load:
    """``call`` at ``rate`` requests a second for ``seconds``, from (host, port) ``url``."""
    return uvloop.run(_open_loop(url, call, check, items, rate, seconds))


def closed_loop(
    url: tuple[str, int], call: Call, check: Check, *, items: int, concurrency: int, seconds: float
) -> Load:
    """``concurrency`` callers sending ``call`` one after the other for ``seconds``."""
    return uvloop.run(_closed_loop(url, call, check, items, concurrency, seconds))


_WRK_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_WRK_DONE = re.compile(r"(\d+) requests in ([\d.]+)(ms|s|m)\b")
_TO_S = {"ms": 0.001, "s": 1.0, "m": 60.0}


def wrk_closed_loop(
    url: tuple[str, int], call: Call, *, items: int, concurrency: int, seconds: float
) -> Load | None:
    """The closed loop measured by ``wrk`` (one thread), or None where wrk is not installed.
    wrk does not look at the bodies: answers other than 2xx/3xx count as errors."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    with tempfile.TemporaryDirectory(prefix="sluis-wrk-") as tmp:
        script = Path(tmp) / "call.lua"
        script.write_text(call.lua(items))
        command = [wrk, "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency"]
        command += ["-s", str(script), f"http://{url[0]}:{url[1]}"]
        run = subprocess.run(command, capture_output=True, text=True)
    out = run.stdout
    done = _WRK_DONE.search(out)
    if done is None:
        raise RuntimeError(f"wrk (exit status {run.returncode}) said:\n{out}{run.stderr}")
    elapsed = float(done.group(2)) * _TO_S[done.group(3)]
    latency = {m[0]: float(m[1]) * _TO_MS[m[2]] for m in _WRK_LATENCY.findall(out)}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    return Load(int(done.group(1)), errors, elapsed, latency["50"], latency["99"], tool="wrk")
