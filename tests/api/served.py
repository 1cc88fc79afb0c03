"""``sluis serve`` as a real process on 127.0.0.1 for the tests that need one (schemathesis,
two servers on one PostgreSQL): started with the project's settings, waited for on /healthz,
and stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
from api_helpers import STARTED, free_port

from engine.model.flow import load_flows
from engine.model.project import Project
from engine.runtime.clock import SystemClock
from engine.runtime.runner import Runtime
from engine.store import Store
from engine.store import tokens as store_tokens

SLUIS = str(Path(sys.executable).parent / "sluis")  # the installed command


def prepare(project: Project, url: str, started: Sequence[str] = STARTED) -> str:
    """Make the schema on ``url``, start the flows and return a general token."""
    store = Store.open(project, url)
    store.db.create_schema()
    flows, _ = load_flows(project)
    runtime = Runtime(store, flows, SystemClock())
    for name in started:
        runtime.start(name)
    now = SystemClock().now()
    with store.db.write() as conn:
        store_tokens.create_user(conn, "fuzz", service=True, now=now)
        _, token = store_tokens.create_token(conn, "fuzz", now=now)
    store.db.dispose()
    return token


@contextmanager
def serving(project: Path, url: str, log: Path) -> Iterator[str]:
    """A ``sluis serve`` process on a free port; yields its base URL."""
    port = free_port()
    env = {**os.environ, "SLUIS_DATABASE_URL": url}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [SLUIS, "serve", "--port", str(port), "--project", str(project)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sluis serve did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
