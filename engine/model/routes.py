"""The routes of a flow file: ``next`` read against the objects' outputs, and the checks of the
whole graph (a start object, only-start objects, reachability, loops without a pause).

Every problem is reported at once. A misspelt ``next`` is reported where it is written, and
reachability follows what it most likely meant (the did-you-mean object), so the objects behind
it are not also reported as unreachable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.model.validation import article, closest, did_you_mean
from engine.sdk.campaign import CampaignObject

Report = Callable[..., None]  # (path, message, *, key=False)


@dataclass
class Routes:
    """Where an object's outputs lead: ``routes`` as written and valid; ``meant`` also holds
    the likely targets of broken ones (for reachability only)."""

    routes: dict[str, str] = field(default_factory=dict)
    meant: set[str] = field(default_factory=set)


def read_routes(
    report: Report,
    oid: str,
    spec: Any,
    kind: type[CampaignObject[Any]],
    outputs: tuple[str, ...],
    ids: list[str],
) -> Routes:
    """The routes of ``next`` (``spec``) of object ``oid``; problems go to ``report``."""
    path: tuple[str | int, ...] = ("objects", oid, "next")
    found = Routes()
    if spec is None:
        return found
    type_name = kind.type
    if isinstance(spec, str):
        if not outputs:
            report(
                path,
                f"object '{oid}': {article(type_name)} {type_name} object has no outputs, so it "
                "cannot have 'next'; remove it",
            )
            return found
        if kind.routes_by_name and len(outputs) > 1:
            every = ", ".join(f"{o}: {spec}" for o in outputs)
            report(
                path,
                f"object '{oid}': {article(type_name)} {type_name} object routes each output by "
                f"name ({', '.join(outputs)}), so 'next: {spec}' would route only "
                f"'{outputs[0]}'; write next: {{{every}}} (or leave out the outputs that end "
                "there)",
            )
            found.meant.update(_meant(spec, ids))
            return found
        pairs = [(outputs[0], spec, path)]
    elif isinstance(spec, dict):
        pairs = [(str(o), t, (*path, o)) for o, t in spec.items()]
    else:
        return found  # pydantic reports the wrong type
    for output, target, where in pairs:
        good = True
        if output not in outputs:
            choices = ", ".join(outputs) if outputs else "none"
            hint = did_you_mean(output, outputs) or f"; its outputs are {choices}"
            report(
                where,
                f"object '{oid}': {article(type_name)} {type_name} object has no output "
                f"'{output}'{hint}",
                key=True,
            )
            good = False
        if not isinstance(target, str) or target not in ids:
            hint = did_you_mean(str(target), ids) or "; add that object or fix the name"
            report(where, f"object '{oid}': next '{target}' is not an object in this flow{hint}")
            good = False
        found.meant.update(_meant(target, ids))
        if good:
            found.routes[output] = target
    return found


def _meant(target: Any, ids: list[str]) -> set[str]:
    if isinstance(target, str) and target in ids:
        return {target}
    match = closest(str(target), ids)
    return {match} if match else set()


def check_structure(
    report: Report,
    kinds: Mapping[str, type[CampaignObject[Any]]],
    routes: Mapping[str, Routes],
    all_types: Mapping[str, type[CampaignObject[Any]]],
    unknown: Iterable[str] = (),
) -> None:
    """Start objects, only-start objects, reachability and loops. ``kinds`` are the objects
    whose type is known; ``unknown`` those whose type is not (already reported): they may be
    starts, so reachability counts them as such and nothing is said about a missing start."""
    unknown = set(unknown)
    sources: dict[str, set[str]] = {oid: set() for oid in kinds}
    for oid, found in routes.items():
        for target in found.meant:
            sources.setdefault(target, set()).add(oid)
    starts = [oid for oid, k in kinds.items() if k.can_start and not sources[oid]]
    if not starts and not unknown:
        names = ", ".join(t for t, c in all_types.items() if c.can_start)
        report(
            ("objects",),
            f"the flow has no start object; add one of: {names} (with no object leading to it)",
            key=True,
        )
        return
    for oid, kind in kinds.items():
        if kind.only_start and sources[oid]:
            report(
                ("objects", oid),
                f"object '{oid}': {article(kind.type)} {kind.type} object can only "
                f"start a flow, but {', '.join(sorted(sources[oid]))} leads to it",
                key=True,
            )
    reached = {*starts, *unknown}
    todo = list(reached)
    while todo:
        source = routes.get(todo.pop())
        for target in source.meant if source else ():
            if target not in reached:
                reached.add(target)
                todo.append(target)
    shown = ", ".join(starts) or "none found"
    for oid in kinds:
        if oid not in reached:
            report(
                ("objects", oid),
                f"object '{oid}' cannot be reached from a start object ({shown}); route an "
                "output to it or remove it",
                key=True,
            )
    _loops(report, kinds, {oid: set(found.routes.values()) for oid, found in routes.items()})


def _loops(
    report: Report,
    kinds: Mapping[str, type[CampaignObject[Any]]],
    edges: Mapping[str, set[str]],
) -> None:
    busy = [oid for oid, kind in kinds.items() if not kind.pauses]
    if not _has_loop(edges, busy):
        return
    import networkx as nx  # only to list the loops, in the order they were always listed

    graph = nx.DiGraph()
    graph.add_nodes_from(kinds)
    for oid, targets in edges.items():
        for target in targets:
            graph.add_edge(oid, target)
    for cycle in sorted(nx.simple_cycles(graph.subgraph(busy)), key=lambda c: min(c))[:5]:
        first = min(cycle)
        loop = " -> ".join([*_rotate(cycle, first), first])
        report(
            ("objects", first),
            f"object '{first}': the loop {loop} passes no wait, "
            "wait-for or bucket, so customers would circle without pause; add a wait",
            key=True,
        )


def _has_loop(edges: Mapping[str, set[str]], nodes: list[str]) -> bool:
    """Whether the routes among ``nodes`` form a loop: peel off the nodes nothing among them
    leads to (Kahn's algorithm); a loop is what cannot be peeled."""
    inside = set(nodes)
    among = {oid: {t for t in edges.get(oid, ()) if t in inside} for oid in nodes}
    incoming = dict.fromkeys(nodes, 0)
    for targets in among.values():
        for target in targets:
            incoming[target] += 1
    free = [oid for oid, n in incoming.items() if n == 0]
    peeled = 0
    while free:
        peeled += 1
        for target in among[free.pop()]:
            incoming[target] -= 1
            if incoming[target] == 0:
                free.append(target)
    return peeled < len(nodes)


def _rotate(cycle: list[str], first: str) -> list[str]:
    i = cycle.index(first)
    return cycle[i:] + cycle[:i]
