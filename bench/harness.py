"""The benchmark harness: scenarios register with ``@scenario``; ``python -m bench`` runs them
(all, or those named on the command line) and prints a table of the engine's figure, the
baseline's figure measured in the same run, and their ratio."""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, NamedTuple

SCENARIOS: dict[str, Callable[[float], list[Result]]] = {}


@dataclass
class Result:
    """One measured figure. ``ratio`` is engine/baseline for times and baseline/engine for
    rates, so above 1 always means the engine is slower."""

    name: str
    unit: str
    engine: float
    baseline: float | None = None
    higher_is_better: bool = True
    target: str = ""
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if not self.baseline or not self.engine:
            return None
        if self.higher_is_better:
            return self.baseline / self.engine
        return self.engine / self.baseline


def scenario(
    name: str,
) -> Callable[[Callable[[float], list[Result]]], Callable[[float], list[Result]]]:
    """Register a scenario; it receives a scale factor (1.0 = the issue's full size)."""

    def register(fn: Callable[[float], list[Result]]) -> Callable[[float], list[Result]]:
        SCENARIOS[name] = fn
        return fn

    return register


@contextmanager
def timer() -> Iterator[list[float]]:
    """``with timer() as t: ...`` then ``t[0]`` holds the seconds."""
    holder: list[float] = []
    start = time.perf_counter()
    try:
        yield holder
    finally:
        holder.append(time.perf_counter() - start)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


POSTGRES_ADMIN = os.environ.get(
    "SLUIS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database (``SLUIS_TEST_POSTGRES`` names the admin
    URL; default: the server on 127.0.0.1:5432), dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"sluis_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def p50_p99_ms(latencies: list[float]) -> tuple[float, float]:
    """The median and 99th percentile of latencies in seconds, in milliseconds."""
    ordered = sorted(latencies)
    return ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.99)] * 1000


class Measured(NamedTuple):
    """A process run to its end: wall seconds, CPU seconds (user + system; on a shared
    machine wall time measures the neighbours as well), its own peak resident memory (MB)
    and its output (empty when the caller took it)."""

    seconds: float
    cpu: float
    peak_mb: float
    output: str


def run_measured(
    command: Sequence[str], *, stdout: IO[str] | None = None, env: Mapping[str, str] | None = None
) -> Measured:
    """Run ``command`` to its end and measure it (``wait4``); a failure raises with its
    stderr."""
    with tempfile.TemporaryFile("w+") as errors, tempfile.TemporaryFile("w+") as output:
        start = time.perf_counter()
        proc = subprocess.Popen(
            command, stdout=stdout or output, stderr=errors, env={**os.environ, **(env or {})}
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(command[:4])} ... failed: {errors.read()[-2000:]}")
        output.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        return Measured(seconds, cpu, usage.ru_maxrss / 1024, output.read())
