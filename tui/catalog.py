"""The flows the TUI shows: every flow file of the project, valid (a ``Flow``) or invalid (its
validation problems, shown instead of a graph)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.errors import FlowError, Problem
from engine.model.flow import Flow, load_flow
from engine.model.project import Project


@dataclass(frozen=True)
class Entry:
    """One flow file: its name and either the flow or its problems."""

    name: str
    flow: Flow | None = None
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def valid(self) -> bool:
        return self.flow is not None


def catalog(project: Project) -> list[Entry]:
    """Every flow file of the project, in file name order."""
    entries = []
    for path in project.flow_files():
        try:
            flow = load_flow(path, project)
        except FlowError as exc:
            entries.append(Entry(path.stem, problems=tuple(exc.problems)))
        else:
            entries.append(Entry(flow.name, flow))
    return entries


def with_deployed(entries: list[Entry], deployed: Iterable[Flow]) -> list[Entry]:
    """The catalog with each deployed flow at its running version (what runs is what was
    started, not the file); deployed flows without a file come last."""
    running = {flow.name: flow for flow in deployed}
    shown = [Entry(e.name, running.pop(e.name)) if e.name in running else e for e in entries]
    return shown + of_flows(running.values())


def of_flows(flows: Iterable[Flow]) -> list[Entry]:
    """Entries for flows already loaded (step mode shows just the replayed flow)."""
    return [Entry(flow.name, flow) for flow in flows]
