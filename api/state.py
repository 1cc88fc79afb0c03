"""What every route reaches through ``request.app.state.sluis``: the project, its store, and a
runtime over its flows (to enter customers and record events)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.project import Project
from engine.runtime import Runtime
from engine.store import Store


@dataclass
class AppState:
    project: Project
    store: Store
    runtime: Runtime
