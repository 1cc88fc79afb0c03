"""Fixtures of the HTTP API tests: a project with webhook flows, an app on a SQLite or
PostgreSQL store, and a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from api_helpers import (
    FLOWS,
    SETTINGS,
    SHOPIFY_SECRET,
    STANDARD_SECRET,
    STARTED,
    Api,
    Server,
    Setup,
    free_port,
)

from api.app import create_app
from engine.model.flow import load_flows
from engine.model.project import Project
from engine.runtime.clock import SystemClock
from engine.runtime.runner import Runtime
from engine.store import Store


@pytest.fixture
def api_project(make_project: Callable[..., Project], monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("SHOPIFY_SECRET", SHOPIFY_SECRET)
    monkeypatch.setenv("STANDARD_SECRET", STANDARD_SECRET)
    return make_project(SETTINGS, FLOWS)


def _setup(project: Project, store: Store) -> Setup:
    flows, problems = load_flows(project)
    assert not problems, problems
    runtime = Runtime(store, flows, SystemClock())
    for name in STARTED:
        runtime.start(name)
    app = create_app(project, store)
    holder = Setup(project, store, app, "", Api(app))
    _, token = holder.make_token("shop", service=True)
    holder.token = token
    holder.api = Api(app, token)
    return holder


@pytest.fixture
def setup(api_project: Project, store_for: Callable[[Project], Store]) -> Setup:
    """The app on SQLite and on PostgreSQL."""
    return _setup(api_project, store_for(api_project))


@pytest.fixture
def sqlite_setup(api_project: Project, tmp_path: Any) -> Iterator[Setup]:
    """The app on SQLite only (tests of HTTP behaviour that the database does not change)."""
    store = Store.open(api_project, f"sqlite:///{tmp_path / 'api.db'}")
    yield _setup(api_project, store)
    store.db.dispose()


@pytest.fixture
def server(sqlite_setup: Setup) -> Iterator[Server]:
    """A real uvicorn server on 127.0.0.1 (in a thread) serving the app."""
    port = free_port()
    config = uvicorn.Config(
        sqlite_setup.app, host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield Server(f"http://127.0.0.1:{port}", sqlite_setup)
    instance.should_exit = True
    thread.join(timeout=10)
