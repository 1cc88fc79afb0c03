"""The benchmark harness: scenarios register with ``@scenario``; ``python -m bench`` runs them
(all, or those named on the command line) and prints a table of the engine's figure, the
baseline's figure measured in the same run, and their ratio."""

from __future__ import annotations

import os
import resource
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

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
